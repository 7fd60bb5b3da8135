"""Runtime processes run in their own session, so they outlive an emulator that is killed. Each instance's work
dir records its process group and the emulator that started it (`process.json`); the next emulator using the
same cache dir stops the groups whose emulator is gone (process_group.py says which processes count as the
recorded ones).

A record is removed only once none of its processes is left: an emulator that could not confirm that (or was
killed before it could) leaves the record, and that instance's directory, for the next one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from .process_group import InstanceProcesses, process_stat

__all__ = ["STATE_FILE", "reap_leftovers", "record_process", "remove_run_dir"]

log = logging.getLogger(__name__)

STATE_FILE = "process.json"
_TERM_GRACE_S = 5.0


def record_process(work_dir: Path, processes: InstanceProcesses, *, runtime: str, instance_id: str) -> None:
    """Write the instance's `process.json`: its process group and this emulator."""
    state = {
        "runtime": runtime, "instance": instance_id, "pid": processes.leader, "start": processes.start,
        "owner_pid": os.getpid(), "owner_start": process_stat(os.getpid())[2],
        "boot_id": _boot_id(), "pid_namespace": _pid_namespace(), "work_dir": processes.work_dir,
    }
    (work_dir / STATE_FILE).write_text(json.dumps(state))


def reap_leftovers(cache_dir: Path) -> list[int]:
    """Stop the runtime processes of emulators that are gone and remove their run dirs; returns the pids."""
    reaped: list[int] = []
    dead_runs: set[Path] = set()
    for path in sorted(cache_dir.glob(f"*/*/{STATE_FILE}")):
        try:
            state = json.loads(path.read_text())
            processes = InstanceProcesses(leader=int(state["pid"]), start=state.get("start"),
                                          work_dir=str(state.get("work_dir", "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _owner_alive(state):
            continue
        dead_runs.add(path.parent.parent)
        if state.get("boot_id") == _boot_id() and processes.members():
            if not processes.stop_blocking(_TERM_GRACE_S):
                log.warning("leftover runtime processes %s (%s instance %s) survived SIGKILL; %s is kept for the "
                            "next start", processes.members(), state.get("runtime", "?"), state.get("instance", "?"),
                            path)
                continue
            log.warning("stopped leftover runtime process %s (%s instance %s): the emulator that started it "
                        "(pid %s) is gone", processes.leader, state.get("runtime", "?"), state.get("instance", "?"),
                        state.get("owner_pid", "?"))
            reaped.append(processes.leader)
        path.unlink(missing_ok=True)
    for run_dir in dead_runs:
        remove_run_dir(run_dir)
    return reaped


def remove_run_dir(run_dir: Path) -> None:
    """Remove an emulator's run dir, except the instance dirs whose `process.json` is still there (their processes
    were not confirmed gone): the next emulator using the cache dir reaps those."""
    if not run_dir.is_dir():
        return
    for entry in run_dir.iterdir():
        if not (entry / STATE_FILE).exists():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    if not any(run_dir.iterdir()):
        with contextlib.suppress(OSError):
            run_dir.rmdir()


def _owner_alive(state: dict) -> bool:
    if state.get("boot_id") != _boot_id():
        return False
    if state.get("pid_namespace") != _pid_namespace():
        return True  # an emulator in another pid namespace cannot be checked from here
    owner = state.get("owner_pid")
    return isinstance(owner, int) and process_stat(owner)[2] == state.get("owner_start")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"
