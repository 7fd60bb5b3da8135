"""What the client commands share: options, the API client, reading manifest files, printing outcomes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...errors import InvalidArgumentError
from ...kube.resources import Resource, resource_for
from ...spec import manifest_files
from ..client import SERVER_ENV, ApiClient, CommandError, connect

__all__ = [
    "add_namespace_options",
    "add_object_arguments",
    "add_server_option",
    "client",
    "command",
    "manifest_texts",
    "print_outcomes",
    "resource_arg",
]


def command(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser], name: str, *,
            help: str, description: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A client subcommand: `--server` added, `run` as what it does."""
    parser = commands.add_parser(name, parents=parents, help=help, description=description)
    add_server_option(parser)
    parser.set_defaults(run=run)
    return parser


def add_object_arguments(parser: argparse.ArgumentParser, *, type_required: bool, names: str) -> None:
    """TYPE (isvc, servingruntime…) and NAME arguments; `names` is their nargs."""
    parser.add_argument("type", nargs=None if type_required else "?", metavar="TYPE",
                        help="isvc, servingruntime, clusterservingruntime, predictor or secret (kubectl's names, "
                             "singular or plural)")
    parser.add_argument("names", nargs=names, metavar="NAME", help="object names (metadata.name)")


def add_server_option(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """--server, accepted before or after the subcommand."""
    parser.add_argument("--server", metavar="URL", default=None if top_level else argparse.SUPPRESS,
                        help=f"the emulator's management API (default ${SERVER_ENV}, else the server in the "
                             "kubeconfig `serve` wrote: $MMEMU_KUBECONFIG, else ~/.modelmesh-emulator/kubeconfig)")


def add_namespace_options(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument("-n", "--namespace", help="namespace (default: the emulator's, modelmesh-serving)")
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def client(args: argparse.Namespace) -> ApiClient:
    return connect(args.server)


def resource_arg(name: str) -> Resource:
    try:
        return resource_for(name)
    except InvalidArgumentError as exc:
        raise CommandError(exc.message) from None


def manifest_texts(paths: list[str]) -> Iterator[tuple[str, str, str | None]]:
    """(source, YAML text, absolute path) for each `-f` argument: a file, a directory's *.yaml/*.yml files,
    or `-` (stdin, which has no path)."""
    for given in paths:
        if given == "-":
            yield "STDIN", sys.stdin.read(), None
            continue
        path = Path(given)
        if not path.exists():
            raise CommandError(f'the path "{given}" does not exist')
        for file in manifest_files([path]):
            try:
                yield str(file), file.read_text(encoding="utf-8"), str(file.resolve())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{file}: cannot read: {exc}") from None


def print_outcomes(outcomes: list[dict[str, Any]]) -> bool:
    """Print kubectl's line per object (errors to stderr); True when every object succeeded."""
    ok = True
    for outcome in outcomes:
        if outcome.get("error"):
            ok = False
            print(outcome["line"], file=sys.stderr)
        else:
            print(outcome["line"])
    return ok
