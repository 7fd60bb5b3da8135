"""Keep the `--help` blocks of docs/cli.md equal to what the commands print.

docs/cli.md is written by hand except for one block per command, between `<!-- help: COMMAND -->` and
`<!-- end help -->` (COMMAND `modelmesh-emulator` for the top level). Rewrite them with
`python -m emulator.control.cli_doc docs/cli.md`; `tests/control/test_cli_docs.py` fails when one is stale.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PROGRAM", "REGENERATE", "command_helps", "help_block", "update"]

PROGRAM = "modelmesh-emulator"
REGENERATE = ".venv/bin/python -m emulator.control.cli_doc docs/cli.md"
_WIDTH = "100"
_BLOCK = re.compile(r"<!-- help: (?P<command>[\w-]+) -->\n.*?<!-- end help -->", re.DOTALL)


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    """argparse wraps help to $COLUMNS: fix it so the page does not depend on the terminal it was made in."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def command_helps() -> dict[str, str]:
    """`--help` text of the program and of each subcommand, by command name (the program's own name first)."""
    from ..cli import build_parser

    with _columns(_WIDTH):
        parser = build_parser()
        helps = {PROGRAM: parser.format_help()}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps |= {name: sub.format_help() for name, sub in action.choices.items()}
    return helps


def help_block(command: str, text: str) -> str:
    invocation = PROGRAM if command == PROGRAM else f"{PROGRAM} {command}"
    return f"<!-- help: {command} -->\n```text\n$ {invocation} --help\n{text.rstrip()}\n```\n<!-- end help -->"


def update(page: str) -> str:
    """`page` with every help block rewritten; a block naming no command is an error."""
    helps = command_helps()

    def replace(match: re.Match[str]) -> str:
        command = match["command"]
        if command not in helps:
            raise ValueError(f"docs/cli.md has a help block for {command!r}, which is not a command "
                             f"(commands: {', '.join(helps)})")
        return help_block(command, helps[command])

    return _BLOCK.sub(replace, page)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m emulator.control.cli_doc docs/cli.md\n{__doc__}", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(update(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
