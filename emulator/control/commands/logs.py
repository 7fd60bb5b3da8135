"""`logs RUNTIME`: the log of a runtime's instances (the MLServer process or container output)."""

from __future__ import annotations

import argparse
import sys

from ._common import client, command

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = command(
        commands, parents, "logs", run=run, help="print a runtime's log (kubectl logs)",
        description="Print the log of the running instances of a ServingRuntime or ClusterServingRuntime. "
                    "Instances start when a model needs them.")
    parser.add_argument("runtime", metavar="RUNTIME", help="ServingRuntime or ClusterServingRuntime name")
    parser.add_argument("--tail", type=int, default=-1, metavar="N", help="only the last N lines (default: all)")
    parser.add_argument("--instance", metavar="ID", help="one instance id (see `status`)")
    parser.add_argument("-n", "--namespace", help="namespace of a ServingRuntime (default: any)")


def run(args: argparse.Namespace) -> int:
    params: dict[str, str | int] = {"tail": args.tail}
    params |= {key: value for key, value in (("namespace", args.namespace), ("instance", args.instance)) if value}
    with client(args) as api:
        text = api.request("GET", f"/emulator/v1/runtimes/{args.runtime}/logs", params=params).text
    sys.stdout.write(text)
    return 0
