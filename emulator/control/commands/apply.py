"""`apply -f FILE|DIR|-`: create or update objects, as `kubectl apply`."""

from __future__ import annotations

import argparse
import sys

from ..client import CommandError
from ._common import add_namespace_options, client, command, manifest_texts, print_outcomes

__all__ = ["add_parser", "send_manifests"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "apply", run=run, help="create or update objects from manifest files (kubectl apply -f)",
        description="Apply every object in the files, directories (*.yaml, *.yml) or stdin (-) to the running "
                    "emulator. A file with an invalid document applies nothing; the other files still apply.")
    parser.add_argument("-f", "--filename", action="append", required=True, metavar="FILE",
                        help="manifest file, directory or - for stdin (repeatable)")
    add_namespace_options(parser)


def send_manifests(args: argparse.Namespace, action: str) -> int:
    """POST each file to /emulator/v1/<action>; go on after a failed file, exit 1 if anything failed."""
    ok, objects = True, 0
    with client(args) as api:
        for source, text, path in manifest_texts(args.filename):
            try:
                outcomes = api.manifests(action, text, source, args.namespace, path)
            except CommandError as exc:
                if exc.reason not in ("Invalid", "BadRequest"):
                    raise
                print(f"error: {exc.message}", file=sys.stderr)
                ok = False
                continue
            objects += len(outcomes)
            ok = print_outcomes(outcomes) and ok
    if ok and objects == 0:
        raise CommandError(f"no objects passed to {action}")
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    return send_manifests(args, "apply")
