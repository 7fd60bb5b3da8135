"""docs/cli.md shows every command's `--help` exactly as the installed `modelmesh-emulator` prints it."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from emulator.control.cli_doc import PROGRAM, REGENERATE, command_helps, update
from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN

CLI_MD = ROOT / "docs" / "cli.md"


def test_help_blocks_are_current() -> None:
    page = CLI_MD.read_text(encoding="utf-8")

    assert update(page) == page, f"a --help block in docs/cli.md is stale: run `{REGENERATE}`"


def test_every_command_has_one_help_block() -> None:
    documented = re.findall(r"<!-- help: ([\w-]+) -->", CLI_MD.read_text(encoding="utf-8"))

    assert sorted(documented) == sorted(command_helps()), (
        f"each command needs one `<!-- help: COMMAND -->` / `<!-- end help -->` pair in docs/cli.md, then "
        f"`{REGENERATE}`")


@pytest.mark.parametrize("command", sorted(command_helps()))
def test_the_installed_command_prints_the_documented_help(command: str) -> None:
    args = [] if command == PROGRAM else [command]

    result = subprocess.run([str(BIN / PROGRAM), *args, "--help"], capture_output=True, text=True, timeout=60,
                            env=os.environ | {"COLUMNS": "100"})

    assert result.returncode == 0, result.stderr
    assert f"$ {' '.join([PROGRAM, *args])} --help\n{result.stdout.rstrip()}\n```" in CLI_MD.read_text()
