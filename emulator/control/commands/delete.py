"""`delete -f FILE…` and `delete TYPE NAME…`, as `kubectl delete`."""

from __future__ import annotations

import argparse
import sys

from ..client import CommandError, UsageError
from ._common import add_namespace_options, add_object_arguments, client, command, resource_arg
from .apply import send_manifests

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "delete", run=run, help="delete objects by file or by type and name (kubectl delete)",
        description="Delete the objects the files name (-f), or objects of TYPE by NAME. Deleting an "
                    "InferenceService unloads its model.")
    add_object_arguments(parser, type_required=False, names="*")
    parser.add_argument("-f", "--filename", action="append", metavar="FILE",
                        help="manifest file, directory or - for stdin (repeatable)")
    add_namespace_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.filename:
        if args.type:
            raise UsageError("give either -f FILE or TYPE NAME, not both")
        return send_manifests(args, "delete")
    if not args.type or not args.names:
        raise UsageError("give -f FILE, or a TYPE and at least one NAME (e.g. delete isvc my-model)")
    resource = resource_arg(args.type)
    ok = True
    with client(args) as api:
        namespace = api.namespace(args.namespace) if resource.namespaced else None
        for name in args.names:
            try:
                api.request("DELETE", resource.object_path(name, namespace))
            except CommandError as exc:
                if exc.reason != "NotFound":
                    raise
                print(f"error: {exc.message}", file=sys.stderr)
                ok = False
                continue
            print(f'{resource.qualified} "{name}" deleted')
    return 0 if ok else 1
