"""`modelmesh-emulator` command line: `serve`, and kubectl-like commands against a running emulator.

Exit status: 0 on success, 1 for an error (one line `error: …` on stderr; `--debug` adds the traceback),
2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import SecretStr, ValidationError

from . import __version__
from .control.client import CommandError, UsageError
from .control.commands import add_commands, add_server_option
from .errors import EmulatorError
from .event_loop import event_loop_policy
from .settings import Settings

__all__ = ["build_parser", "main"]


def _debug_option(*, top_level: bool) -> argparse.ArgumentParser:
    """--debug, accepted before or after the subcommand."""
    parser = argparse.ArgumentParser(add_help=False)
    default: object = False if top_level else argparse.SUPPRESS
    parser.add_argument("--debug", action="store_true", default=default, help="verbose logs and tracebacks")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelmesh-emulator", parents=[_debug_option(top_level=True)],
        description="KServe ModelMesh's serving contract on one machine: ServingRuntime and InferenceService "
                    "YAML in, KServe V2 gRPC (8033) and REST (8008) out, kubectl-like commands to drive it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_server_option(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(commands, [_debug_option(top_level=False)])
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    quiet = logging.INFO if args.command == "serve" else logging.WARNING
    level = logging.DEBUG if args.debug else quiet
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.debug:
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _event_loop_choice(command: str) -> str:
    """The `event_loop` setting for `serve` (which reports invalid settings itself); asyncio for the rest."""
    if command != "serve":
        return "asyncio"
    try:
        return Settings().event_loop
    except ValidationError:
        return "asyncio"


def _settings_error(exc: ValidationError) -> str:
    """One line naming each invalid setting by its variable; a secret setting's value is not repeated."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        field = Settings.model_fields.get(name)
        secret = field is not None and field.annotation is SecretStr
        given = "" if secret or "input" not in error else f" (got {error['input']!r})"
        problems.append(f"MMEMU_{name.upper()}: {error['msg']}{given}")
    return "invalid settings: " + "; ".join(problems)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        with event_loop_policy(_event_loop_choice(args.command)):
            return int(args.run(args))
    except UsageError as exc:
        if args.debug:
            raise
        parser.exit(2, f"error: {exc.message}\nSee 'modelmesh-emulator {args.command} --help'.\n")
    except ValidationError as exc:
        if args.debug or exc.title != Settings.__name__:
            raise
        print(f"error: {_settings_error(exc)}", file=sys.stderr)
        return 1
    except (CommandError, EmulatorError, OSError) as exc:
        if args.debug:
            raise
        message = exc.message if isinstance(exc, CommandError | EmulatorError) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
