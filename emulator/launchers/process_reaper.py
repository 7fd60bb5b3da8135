"""Runtime processes run in their own session, so they outlive an emulator that is killed. Each instance's work
dir records its process group and the emulator that started it (`process.json`); the next emulator using the
same cache dir stops the groups whose emulator is gone.

A process is stopped only when it is provably the one recorded: the group leader with the recorded pid and
start time, or a member of that group (same session) working in the instance's work dir. A pid reused by an
unrelated process matches neither.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path

__all__ = ["STATE_FILE", "reap_leftovers", "record_process"]

log = logging.getLogger(__name__)

STATE_FILE = "process.json"
_TERM_GRACE_S = 5.0


def record_process(work_dir: Path, pid: int, *, runtime: str, instance_id: str) -> None:
    """Write the instance's `process.json`: its process group (led by `pid`) and this emulator."""
    state = {
        "runtime": runtime, "instance": instance_id, "pid": pid, "start": _stat(pid)[2],
        "owner_pid": os.getpid(), "owner_start": _stat(os.getpid())[2],
        "boot_id": _boot_id(), "pid_namespace": _pid_namespace(), "work_dir": str(work_dir.resolve()),
    }
    (work_dir / STATE_FILE).write_text(json.dumps(state))


def reap_leftovers(cache_dir: Path) -> list[int]:
    """Stop the runtime processes of emulators that are gone and remove their run dirs; returns the pids."""
    reaped: list[int] = []
    dead_runs: set[Path] = set()
    for path in sorted(cache_dir.glob(f"*/*/{STATE_FILE}")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _owner_alive(state):
            continue
        dead_runs.add(path.parent.parent)
        if state.get("boot_id") == _boot_id() and _stop_group(state):
            log.warning("stopped leftover runtime process %s (%s instance %s): the emulator that started it "
                        "(pid %s) is gone", state["pid"], state.get("runtime", "?"), state.get("instance", "?"),
                        state.get("owner_pid", "?"))
            reaped.append(int(state["pid"]))
        path.unlink(missing_ok=True)
    for run_dir in dead_runs:
        if not any(run_dir.glob(f"*/{STATE_FILE}")):
            shutil.rmtree(run_dir, ignore_errors=True)
    return reaped


def _owner_alive(state: dict) -> bool:
    if state.get("boot_id") != _boot_id():
        return False
    if state.get("pid_namespace") != _pid_namespace():
        return True  # an emulator in another pid namespace cannot be checked from here
    owner = state.get("owner_pid")
    return isinstance(owner, int) and _stat(owner)[2] == state.get("owner_start")


def _stop_group(state: dict) -> bool:
    """SIGTERM the recorded group if any member is provably ours, SIGKILL what is left after a grace period."""
    if not _members(state):
        return False
    pgid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + _TERM_GRACE_S
    while _members(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _members(state):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return True


def _members(state: dict) -> list[int]:
    """Live processes of the recorded group that are provably the recorded instance's."""
    leader, work_dir = int(state["pid"]), state.get("work_dir", "")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        process_state, pgrp, start, session = _stat(pid)
        if process_state in (None, "Z", "X") or pgrp != leader or session != leader:
            continue
        if (pid == leader and start == state.get("start")) or _cwd(pid) == work_dir:
            found.append(pid)
    return found


def _stat(pid: int) -> tuple[str | None, int | None, str | None, int | None]:
    """(state, process group, start time in clock ticks, session) from /proc/PID/stat; Nones if no process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None, None, None, None
    return fields[0], int(fields[2]), fields[19], int(fields[3])


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


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
