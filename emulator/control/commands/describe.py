"""`describe TYPE NAME…`: the object, its status and failure info, and the runtime instances holding it."""

from __future__ import annotations

import argparse

from ..describe import describe
from ._common import add_namespace_options, add_object_arguments, client, command, resource_arg

__all__ = ["add_parser"]

_MODEL_KINDS = ("InferenceService", "Predictor")


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "describe", run=run, help="show an object in detail (kubectl describe)",
        description="Show an object with its status and last failure; for an InferenceService or Predictor "
                    "also its concrete model ids, the runtime instances holding them and their size.")
    add_object_arguments(parser, type_required=True, names="+")
    add_namespace_options(parser)


def run(args: argparse.Namespace) -> int:
    resource = resource_arg(args.type)
    texts = []
    with client(args) as api:
        namespace = api.namespace(args.namespace) if resource.namespaced else None
        for name in args.names:
            obj = api.get(resource, name, namespace)
            placement = None
            if resource.kind in _MODEL_KINDS:
                placement = api.json("GET", f"/emulator/v1/namespaces/{namespace}/{resource.plural}/{name}/placement")
            selector = f"involvedObject.kind={resource.kind},involvedObject.name={name}"
            events = api.json("GET", f"/api/v1/namespaces/{namespace or 'default'}/events",
                              params={"fieldSelector": selector})["items"]
            texts.append(describe(obj, placement, events))
    print("\n\n".join(texts))
    return 0
