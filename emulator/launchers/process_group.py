"""The processes of one runtime instance, and stopping every one of them.

A runtime process is started in its own session, so it leads a process group that its children join unless they
start a session of their own. None of the supported servers' children does (checked): MLServer 1.7.1's inference
worker and multiprocessing's resource tracker, TorchServe 0.12's Java frontend and its Python model workers
(working in a model directory under the instance's `tmp/`), Triton's Python backend stub. When MLServer's server
dies (`kill -9`), its worker and tracker live on, orphaned, still in the group.

A process counts as the instance's only when that is provable: the group leader with the recorded pid and start
time, or a member of that group and session working in the instance's work dir (or below it). A pid reused by an
unrelated process matches neither. The kernel keeps a group's id from being reused while any member lives, so
signalling the group is safe exactly while a provable member exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InstanceProcesses", "process_stat"]

_POLL_S = 0.05
_KILL_WAIT_S = 10.0
"""How long processes may take to disappear after SIGKILL (a process in uninterruptible sleep takes a while)."""


@dataclass(frozen=True)
class InstanceProcesses:
    leader: int
    """The pid of the process the launcher started: also the id of its process group and session."""
    start: str | None
    """The leader's start time in clock ticks since boot (`/proc/PID/stat` field 22)."""
    work_dir: str

    @classmethod
    def started(cls, pid: int, work_dir: Path) -> InstanceProcesses:
        return cls(leader=pid, start=process_stat(pid)[2], work_dir=str(work_dir.resolve()))

    def members(self) -> list[int]:
        """The live processes provably this instance's, leader included while it lives."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            state, group, start, session = process_stat(pid)
            if state in (None, "Z", "X") or group != self.leader or session != self.leader:
                continue
            if (pid == self.leader and start == self.start) or self._works_here(pid):
                found.append(pid)
        return found

    def signal(self, sig: signal.Signals) -> bool:
        """Send `sig` to the whole group if any member is provably this instance's; whether one was."""
        if not self.members():
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.leader, sig)
        return True

    def leader_alive(self) -> bool:
        state, _, start, _ = process_stat(self.leader)
        return state not in (None, "Z", "X") and start == self.start

    def stop_blocking(self, grace_s: float) -> bool:
        """Stop every member (see `_stopping`); whether none is left."""
        for pause in self._stopping(grace_s):
            time.sleep(pause)
        return not self.members()

    async def stop(self, grace_s: float) -> bool:
        """`stop_blocking` without blocking the event loop."""
        for pause in self._stopping(grace_s):
            await asyncio.sleep(pause)
        return not self.members()

    def _stopping(self, grace_s: float) -> Iterator[float]:
        """SIGTERM the group and give the leader `grace_s` to shut down (and its workers with it), then SIGKILL
        whatever is left; at once if the leader is gone already (what is left are orphans). Yields the pauses
        between checks; the caller sleeps them."""
        if self.leader_alive():
            self.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.leader_alive() and time.monotonic() < deadline:
                yield _POLL_S
        if not self.signal(signal.SIGKILL):
            return
        deadline = time.monotonic() + _KILL_WAIT_S
        while self.members() and time.monotonic() < deadline:
            yield _POLL_S

    def _works_here(self, pid: int) -> bool:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return False
        return cwd == self.work_dir or cwd.startswith(self.work_dir + "/")


def process_stat(pid: int) -> tuple[str | None, int | None, str | None, int | None]:
    """(state, process group, start time in clock ticks, session) from /proc/PID/stat; Nones if no process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None, None, None, None
    return fields[0], int(fields[2]), fields[19], int(fields[3])
