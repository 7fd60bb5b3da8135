"""Runtime processes of an emulator that was killed are stopped by the next emulator using the same cache dir,
and only those: a process that merely reuses a recorded pid is left alone."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.launchers.process_group import InstanceProcesses
from emulator.launchers.process_reaper import STATE_FILE, reap_leftovers, remove_run_dir
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.control.test_cli_e2e import serve_process
from tests.model_status import eventually
from tests.v2_client import grpc_infer, grpc_request

pytestmark = pytest.mark.integration

SVM = "example-sklearn-mnist-svm"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_runtime_processes_of_a_killed_emulator_are_stopped_by_the_next_one(
        make_settings: Callable[..., Settings], sample_s3_root: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    cache_dir = tmp_path / "cache"
    served = serve_process(["runtimes/mlserver-1.x.yaml", "sample_models/sklearn-mnist-svm.yaml"], cwd=ROOT,
                           cache_dir=cache_dir, extra=("--local-s3-root", str(sample_s3_root)))
    try:
        grpc_infer(f"127.0.0.1:{served.grpc_port}", grpc_request(SVM))
    finally:
        served.process.kill()
        served.process.wait()
    (state_path,) = cache_dir.glob(f"*/*/{STATE_FILE}")
    runtime_pid = json.loads(state_path.read_text())["pid"]
    data_port = next(line for line in (state_path.parent / "runtime.log").read_text().splitlines()
                     if "gRPC server running on" in line).rsplit("//", 1)[1]
    orphaned = alive(runtime_pid) and port_open(data_port)

    with caplog.at_level(logging.WARNING, logger="emulator.launchers.process_reaper"), \
            EmulatorThread(make_settings(cache_dir=cache_dir)):
        stopped = not alive(runtime_pid) and not port_open(data_port)
        leftovers = list(cache_dir.glob(f"*/*/{STATE_FILE}"))

    assert orphaned, "the runtime process did not outlive the killed emulator; nothing to test"
    assert stopped
    assert leftovers == []
    assert [record.getMessage() for record in caplog.records] == [
        f"stopped leftover runtime process {runtime_pid} (mlserver-1.x instance {state_path.parent.name}): "
        f"the emulator that started it (pid {served.process.pid}) is gone"]


def fake_state(work_dir: Path, process: subprocess.Popen[bytes], *, start: str, owner_pid: int,
               owner_start: str = "1") -> None:
    """The record a launcher writes, for a process this test started."""
    work_dir.mkdir(parents=True)
    (work_dir / STATE_FILE).write_text(json.dumps({
        "runtime": "rt", "instance": work_dir.name, "pid": process.pid, "start": start,
        "owner_pid": owner_pid, "owner_start": owner_start, "work_dir": str(work_dir.resolve()),
        "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "pid_namespace": os.readlink("/proc/self/ns/pid"),
    }))


def start_ticks(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]


def test_only_processes_proven_to_be_the_recorded_ones_are_stopped(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    ours = subprocess.Popen(["sleep", "60"], cwd=tmp_path, start_new_session=True)
    reused = subprocess.Popen(["sleep", "60"], cwd=tmp_path, start_new_session=True)
    try:
        fake_state(tmp_path / "run-1" / "ours", ours, start=start_ticks(ours.pid), owner_pid=gone.pid)
        fake_state(tmp_path / "run-2" / "reused", reused, start="1", owner_pid=gone.pid)
        fake_state(tmp_path / "run-3" / "owner-alive", reused, start=start_ticks(reused.pid),
                   owner_pid=os.getpid(), owner_start=start_ticks(os.getpid()))

        reaped = reap_leftovers(tmp_path)
        time.sleep(0.2)

        assert reaped == [ours.pid]
        assert ours.poll() is not None
        assert reused.poll() is None, "a process that only reuses a recorded pid was stopped"
        assert not (tmp_path / "run-1").exists() and not (tmp_path / "run-2").exists()
        assert (tmp_path / "run-3" / "owner-alive" / STATE_FILE).exists(), "a live emulator's record was touched"
    finally:
        for process in (ours, reused):
            process.kill()
            process.wait()


def test_the_orphans_of_a_killed_leader_are_stopped_and_a_process_elsewhere_is_not_counted(tmp_path: Path) -> None:
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"], cwd=tmp_path, start_new_session=True)
    elsewhere = subprocess.Popen(["sleep", "60"], cwd="/", start_new_session=True)
    try:
        processes = InstanceProcesses.started(leader.pid, tmp_path)
        assert eventually(lambda: len(processes.members()) == 3, timeout=10)
        leader.kill()
        leader.wait()
        orphans = processes.members()

        stopped = processes.stop_blocking(grace_s=5)

        assert len(orphans) == 2 and leader.pid not in orphans
        assert stopped
        assert processes.members() == []
        assert elsewhere.poll() is None
    finally:
        elsewhere.kill()
        elsewhere.wait()


def test_exit_cleanup_keeps_only_the_instance_dirs_whose_processes_were_not_confirmed_gone(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-1"
    (run_dir / "stopped" / "models").mkdir(parents=True)
    (run_dir / "unconfirmed").mkdir()
    (run_dir / "unconfirmed" / STATE_FILE).write_text("{}")

    remove_run_dir(run_dir)

    assert [path.name for path in run_dir.iterdir()] == ["unconfirmed"]
    (run_dir / "unconfirmed" / STATE_FILE).unlink()
    remove_run_dir(run_dir)
    assert not run_dir.exists()
