"""`status`: the emulator's endpoints, and each runtime's instances with the models they hold."""

from __future__ import annotations

import argparse
from typing import Any

from ..printer import columns, human_bytes
from ..tables import human_duration
from ._common import client, command

__all__ = ["add_parser"]


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    command(commands, parents, "status", run=run,
            help="show endpoints, runtime instances and the capacity they use",
            description="Show the emulator's endpoints, then one line per runtime instance: its state, uptime, "
                        "models and the bytes they use of its capacity (requests.memory - memBufferBytes); then "
                        "the models and vmodels registered through ModelMesh's own API (mmesh.ModelMesh on the "
                        "gRPC port), if any.")


def _rows(runtimes: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for runtime in runtimes:
        scope = runtime["namespace"] or "(cluster)"
        if not runtime["instances"]:
            state = "Disabled" if runtime["disabled"] else "NotStarted"
            rows.append([runtime["name"], scope, "", state, "", 0, "", ""])
        for instance in runtime["instances"]:
            rows.append([
                runtime["name"], scope, instance["instance"], "Running" if instance["running"] else "Exited",
                human_duration(instance["uptimeSeconds"]), len(instance["models"]),
                human_bytes(instance["usedBytes"]), human_bytes(instance["capacityBytes"]),
            ])
    return rows


def _registrations(registered: dict[str, Any]) -> str:
    lines = []
    if registered["models"]:
        rows = [[m["modelId"], m["type"], m["state"], ",".join(m["instances"]) or "-", ",".join(m["vmodels"]) or "-"]
                for m in registered["models"]]
        lines.append(columns(["MODEL (mmesh.ModelMesh)", "TYPE", "STATE", "INSTANCES", "VMODELS"], rows))
    if registered["vmodels"]:
        rows = [[v["vModelId"], v["owner"] or "-", v["activeModelId"], v["targetModelId"], v["activeModelState"]]
                for v in registered["vmodels"]]
        lines.append(columns(["VMODEL (mmesh.ModelMesh)", "OWNER", "ACTIVE", "TARGET", "ACTIVE STATE"], rows))
    return "\n\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with client(args) as api:
        info = api.info()
        runtimes = api.json("GET", "/emulator/v1/runtimes")["items"]
        registered = api.json("GET", "/emulator/v1/modelmesh")
        serving_config = api.json("GET", "/emulator/v1/servingconfig")
    print(f"modelmesh-emulator {info['version']}  gRPC {info['grpcUrl']}  REST {info['restUrl'] or '(disabled)'}  "
          f"API {info['apiUrl']}  launcher {info['launcher']}")
    if serving_config["present"]:
        changed = ", ".join(f"{name}={value}" for name, value in serving_config["settings"].items())
        print(f"configmap/model-serving-config: {changed or 'no setting changed'}")
    if not runtimes:
        print("No runtimes applied.")
        return 0
    headers = ["RUNTIME", "NAMESPACE", "INSTANCE", "STATE", "UPTIME", "MODELS", "USED", "CAPACITY"]
    print(columns(headers, _rows(runtimes)))
    for note in _stand_in_notes(runtimes):
        print(note)
    if registered["models"] or registered["vmodels"]:
        print()
        print(_registrations(registered))
    return 0


def _stand_in_notes(runtimes: list[dict[str, Any]]) -> list[str]:
    notes = []
    for runtime in runtimes:
        for instance in runtime["instances"]:
            replaced = sorted(set(instance.get("standIns", {}).values()))
            if replaced:
                notes.append(f"note: {runtime['name']} instance {instance['instance']} serves models on the "
                             f"emulator's stand-ins for {', '.join(replaced)} (see docs/runtimes.md)")
    return notes
