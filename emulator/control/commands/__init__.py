"""The `modelmesh-emulator` subcommands: `serve`, and kubectl-like commands against a running emulator."""

from __future__ import annotations

import argparse

from . import apply, delete, describe, get, infer, logs, serve, status, tls
from ._common import add_server_option

__all__ = ["add_commands", "add_server_option"]

_MODULES = (serve, apply, get, describe, delete, logs, infer, status, tls)


def add_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Add each subcommand; its parser's `run(args) -> int` default is the command."""
    for module in _MODULES:
        module.add_parser(commands, parents)
