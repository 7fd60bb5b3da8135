"""No runtime process outlives what started it: real MLServer processes (a server, its inference worker and
multiprocessing's resource tracker) are counted before and after each way an instance ends."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from emulator.launchers.ports import free_port
from emulator.launchers.process_reaper import STATE_FILE
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.control.test_cli_e2e import serve_process
from tests.e2e.test_lifecycle import SVM, isvc_yaml, predict, runtime_yaml
from tests.model_status import eventually, wait_until_settled
from tests.v2_client import grpc_infer, grpc_request

pytestmark = pytest.mark.integration


def runtime_processes(cache_dir: Path) -> set[int]:
    """Live processes whose environment names the cache dir: every runtime process the emulator started there
    (MLServer's models dir is under it) and every child of one, whatever its process group or parent now is."""
    marker = str(cache_dir.resolve()).encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if state not in ("Z", "X") and marker in environ:
            found.add(int(entry.name))
    return found


def listening_addresses(pids: set[int]) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses the processes' TCP sockets listen on (/proc/net/tcp and tcp6)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[len("socket:["):-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            packed = bytes.fromhex(fields[1].split(":")[0])
            words = [packed[i:i + 4][::-1] for i in range(0, len(packed), 4)]  # each 32-bit word is host order
            found.add(ipaddress.ip_address(b"".join(words)))
    return found


def without_memory_request(yaml: str) -> str:
    lines = yaml.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "resources:")
    return "\n".join(lines[:start] + lines[start + 3:])


def test_a_runtime_without_a_memory_request_is_refused_without_starting_a_process(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root, load_failure_expiry_s=0.5)
    manifest = without_memory_request(runtime_yaml("no-memory", "sklearn", memory="1Gi"))
    assert "resources" not in manifest and "memory:" not in manifest
    seen: set[int] = set()
    with EmulatorThread(settings) as emu:
        emu.apply_text(manifest)
        emu.apply_text(isvc_yaml("on-no-memory", "sklearn", SVM))
        status = wait_until_settled(emu, "on-no-memory")["modelStatus"]
        for _ in range(3):  # every load attempt: none starts a runtime
            with pytest.raises(grpc.RpcError) as caught:
                predict(emu, "on-no-memory")
            assert "no resources.requests.memory" in caught.value.details()
            seen |= runtime_processes(settings.cache_dir)

    assert seen == set(), "a load attempt started a runtime process"
    failure = status["lastFailureInfo"]
    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert failure["reason"] == "RuntimeUnhealthy"
    assert "ServingRuntime 'no-memory': container 'mlserver' has no resources.requests.memory" in failure["message"]
    assert "spec.containers[0].resources.requests.memory" in failure["message"]
    assert list(settings.cache_dir.glob(f"*/*/{STATE_FILE}")) == []


def test_a_runtime_that_never_gets_ready_is_stopped_with_its_workers(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root, runtime_startup_timeout_s=20.0)
    # MLServer serves gRPC on a port the emulator does not know (not a declared one, so not remapped):
    # it runs, with its workers, and the adapter's readiness wait times out.
    manifest = runtime_yaml("unreachable", "sklearn", memory="1Gi").replace(
        '{name: MLSERVER_GRPC_PORT, value: "8001"}', f'{{name: MLSERVER_GRPC_PORT, value: "{free_port()}"}}')
    most: set[int] = set()
    with EmulatorThread(settings) as emu:
        emu.apply_text(manifest)
        settled: dict[str, object] = {}
        waiter = threading.Thread(target=lambda: settled.update(wait_until_settled(emu, "on-unreachable")))
        emu.apply_text(isvc_yaml("on-unreachable", "sklearn", SVM))
        waiter.start()
        while waiter.is_alive():
            running = runtime_processes(settings.cache_dir)
            most = running if len(running) > len(most) else most
            waiter.join(0.2)
        left = runtime_processes(settings.cache_dir)
        records = list(settings.cache_dir.glob(f"*/*/{STATE_FILE}"))

    assert len(most) >= 2, f"MLServer and its workers were never seen running ({most}); nothing to test"
    assert "not ready after 20s" in settled["modelStatus"]["lastFailureInfo"]["message"]
    assert left == set()
    assert records == []


def test_deleting_or_disabling_a_runtime_stops_its_processes_and_exit_leaves_none(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root)
    enabled = runtime_yaml("to-stop", "sklearn", memory="1Gi")
    disabled = enabled.replace("\nspec:\n", "\nspec:\n  disabled: true\n")
    assert "disabled: true" in disabled

    def all_gone() -> bool:
        # the record goes once the emulator has confirmed that no process is left: just after they are gone
        return not runtime_processes(settings.cache_dir) and not list(settings.cache_dir.glob(f"*/*/{STATE_FILE}"))

    with EmulatorThread(settings) as emu:
        emu.apply_text(enabled)
        emu.apply_text(isvc_yaml("on-stopped", "sklearn", SVM))
        assert predict(emu, "on-stopped") == [8]
        serving = runtime_processes(settings.cache_dir)
        emu.delete("servingruntime", "to-stop")
        gone_after_delete = eventually(all_gone, timeout=30)

        emu.apply_text(enabled)
        assert predict(emu, "on-stopped") == [8]
        serving_again = runtime_processes(settings.cache_dir)
        emu.apply_text(disabled)
        gone_after_disable = eventually(all_gone, timeout=30)

        emu.apply_text(enabled)
        assert predict(emu, "on-stopped") == [8]
        serving_at_exit = runtime_processes(settings.cache_dir)
    after_exit = runtime_processes(settings.cache_dir)

    assert len(serving) >= 2, f"expected MLServer and its worker processes, found {serving}"
    assert gone_after_delete, f"left after the runtime was deleted: {runtime_processes(settings.cache_dir)}"
    assert len(serving_again) >= 2
    assert gone_after_disable, f"left after the runtime was disabled: {runtime_processes(settings.cache_dir)}"
    assert len(serving_at_exit) >= 2
    assert after_exit == set()
    assert not any(settings.cache_dir.iterdir()), "the run dir outlived the emulator"


def test_after_kill_9_of_mlserver_its_workers_are_stopped_and_sigterm_of_the_emulator_leaves_nothing(
        tmp_path: Path, sample_s3_root: Path) -> None:
    cache_dir = tmp_path / "cache"
    served = serve_process(["runtimes/mlserver-1.x.yaml", "sample_models/sklearn-mnist-svm.yaml"], cwd=ROOT,
                           cache_dir=cache_dir, extra=("--local-s3-root", str(sample_s3_root)))
    address = f"127.0.0.1:{served.grpc_port}"
    try:
        grpc_infer(address, grpc_request("example-sklearn-mnist-svm"))
        (state_path,) = cache_dir.glob(f"*/*/{STATE_FILE}")
        first = runtime_processes(cache_dir)
        server = json.loads(state_path.read_text())["pid"]
        os.kill(server, signal.SIGKILL)
        assert eventually(lambda: not Path(f"/proc/{server}").exists(), timeout=10), "the emulator did not reap it"

        answer = grpc_infer(address, grpc_request("example-sklearn-mnist-svm"))  # a new instance serves it
        second = runtime_processes(cache_dir)

        (new_state,) = cache_dir.glob(f"*/*/{STATE_FILE}")
        server = json.loads(new_state.read_text())["pid"]
        os.kill(server, signal.SIGKILL)
        assert eventually(lambda: server not in runtime_processes(cache_dir), timeout=10)
        orphans = runtime_processes(cache_dir)
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=60)
    finally:
        served.stop()
    left = runtime_processes(cache_dir)

    assert len(first) >= 2, f"expected MLServer and its worker processes, found {first}"
    assert answer.outputs
    assert first.isdisjoint(second), f"the killed instance's workers outlived it: {first & second}"
    assert orphans, "the second server's workers did not outlive its kill -9; nothing to test"
    assert orphans < second
    assert served.process.returncode == 0
    assert left == set(), f"left running after the emulator's SIGTERM: {left}"
    assert list(cache_dir.glob(f"*/*/{STATE_FILE}")) == []


def test_mlserver_listens_on_127_0_0_1_only_whatever_the_manifest_says(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root)
    manifest = runtime_yaml("everywhere", "sklearn", memory="1Gi").replace(
        '{name: MLSERVER_HOST, value: "127.0.0.1"}', '{name: MLSERVER_HOST, value: "0.0.0.0"}')
    assert '"0.0.0.0"' in manifest
    with EmulatorThread(settings) as emu:
        emu.apply_text(manifest)
        emu.apply_text(isvc_yaml("on-everywhere", "sklearn", SVM))
        assert predict(emu, "on-everywhere") == [8]
        addresses = listening_addresses(runtime_processes(settings.cache_dir))

    # gRPC, HTTP and metrics: MLServer's three servers share MLSERVER_HOST
    assert addresses, "no listening socket found"
    assert all((getattr(address, "ipv4_mapped", None) or address).is_loopback for address in addresses), addresses


def test_a_start_cut_short_by_deleting_the_runtime_or_by_exit_leaves_nothing(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root)
    with EmulatorThread(settings) as emu:
        emu.apply_text(runtime_yaml("cut-short", "sklearn", memory="1Gi"))
        emu.apply_text(isvc_yaml("on-cut-short", "sklearn", SVM))  # loads on apply: the instance starts
        started = eventually(lambda: bool(runtime_processes(settings.cache_dir)), timeout=30)
        still_starting = not emu.call(emu.emulator.pool.handles)
        emu.delete("servingruntime", "cut-short")
        gone_after_delete = eventually(lambda: not runtime_processes(settings.cache_dir), timeout=30)

        emu.apply_text(runtime_yaml("cut-short", "sklearn", memory="1Gi"))
        emu.apply_text(isvc_yaml("on-cut-short-2", "sklearn", SVM))
        started_again = eventually(lambda: bool(runtime_processes(settings.cache_dir)), timeout=30)
        still_starting_at_exit = not emu.call(emu.emulator.pool.handles)
    left_after_exit = runtime_processes(settings.cache_dir)

    assert started and still_starting, "the start was over before the runtime was deleted; nothing to test"
    assert gone_after_delete, f"left running after the delete: {runtime_processes(settings.cache_dir)}"
    assert started_again and still_starting_at_exit, "the start was over before the exit; nothing to test"
    assert left_after_exit == set()
    assert list(settings.cache_dir.glob(f"*/*/{STATE_FILE}")) == []
