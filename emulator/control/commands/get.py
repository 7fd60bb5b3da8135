"""`get TYPE [NAME…]`: kubectl's table (the server prints it), `-o wide|yaml|json|name`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ...kube.resources import Resource
from ..client import ApiClient, CommandError
from ..printer import as_list, dump, print_table
from ._common import add_namespace_options, add_object_arguments, client, command, resource_arg

__all__ = ["add_parser"]

OUTPUTS = ("wide", "yaml", "json", "name")


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "get", run=run, help="list objects or show some (kubectl get)",
        description="Show InferenceServices (isvc), ServingRuntimes, ClusterServingRuntimes, Predictors or the "
                    "storage-config Secret with their status; secret values are never shown.")
    add_object_arguments(parser, type_required=True, names="*")
    parser.add_argument("-o", "--output", choices=OUTPUTS, help="wide adds the model id and runtime instances")
    add_namespace_options(parser, all_namespaces=True)


def _scope(api: ApiClient, resource: Resource, args: argparse.Namespace) -> str | None:
    if not resource.namespaced or (args.all_namespaces and not args.names):
        return None
    return api.namespace(args.namespace)


def _fetch(api: ApiClient, resource: Resource, names: list[str], namespace: str | None, *, as_table: bool
           ) -> tuple[list[dict[str, Any]], bool]:
    """The object (or table) for each name, or the whole list; errors for missing names go to stderr."""
    if not names:
        return [api.get(resource, None, namespace, as_table=as_table)], True
    found, ok = [], True
    for name in names:
        try:
            found.append(api.get(resource, name, namespace, as_table=as_table))
        except CommandError as exc:
            if exc.reason != "NotFound":
                raise
            print(f"error: {exc.message}", file=sys.stderr)
            ok = False
    return found, ok


def _no_resources(resource: Resource, namespace: str | None) -> None:
    where = f" in {namespace} namespace" if namespace and resource.namespaced else ""
    print(f"No resources found{where}.", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    resource = resource_arg(args.type)
    output = args.output or ""
    with client(args) as api:
        namespace = _scope(api, resource, args)
        tabular = output in ("", "wide")
        bodies, ok = _fetch(api, resource, args.names, namespace, as_table=tabular)
    if tabular:
        rows = [row for body in bodies for row in body["rows"]]
        if bodies and rows:
            merged = bodies[0] | {"rows": rows}
            all_namespaces = resource.namespaced and namespace is None
            print(print_table(merged, wide=output == "wide", namespace_column=all_namespaces))
        elif ok:
            _no_resources(resource, namespace)
        return 0 if ok else 1
    items = bodies if args.names else bodies[0]["items"]
    if output == "name":
        for item in items:
            print(f"{resource.qualified}/{item['metadata']['name']}")
    elif len(args.names) == 1:
        if items:
            print(dump(items[0], output))
    else:
        print(dump(as_list(items), output))
    return 0 if ok else 1
