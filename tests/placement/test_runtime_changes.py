"""ServingRuntime changes as a ModelMesh cluster sees them, with real MLServer runtimes: a changed spec rolls the
runtime's instances and its models load again there; a deleted runtime's models go to another runtime or fail
with NoSupportingRuntime."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.e2e.test_lifecycle import SVM, digit_request, isvc_yaml, predict, runtime_yaml
from tests.launchers.test_process_cleanup import runtime_processes
from tests.model_status import eventually, isvc_status, wait_until_settled
from tests.v2_client import grpc_infer

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
NO_RUNTIME = "No ServingRuntime supports specified model type and/or protocol"


def pods(emu: EmulatorThread) -> dict[str, float]:
    """Runtime instances and their capacity, as the metrics endpoint shows them."""
    text = httpx.get(f"http://127.0.0.1:{emu.emulator.settings.metrics_port}/metrics").text
    found = {}
    for line in text.splitlines():
        if line.startswith("modelmesh_instance_capacity_bytes{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('pod="', 1)[1].split('"', 1)[0]] = float(value)
    return found


def loads(emu: EmulatorThread) -> float:
    text = httpx.get(f"http://127.0.0.1:{emu.emulator.settings.metrics_port}/metrics").text
    line = next(line for line in text.splitlines() if line.startswith("modelmesh_loadmodel_milliseconds_count"))
    return float(line.rsplit(" ", 1)[1])


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


class Requests:
    """Sends requests to an InferenceService without pause on a thread and keeps every answer or error."""

    def __init__(self, emu: EmulatorThread, name: str):
        self.emu, self.name = emu, name
        self.answers: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.extend(predict(self.emu, self.name))
            except grpc.RpcError as exc:
                self.errors.append(exc.details())
            time.sleep(0.02)

    def __enter__(self) -> Requests:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_changed_runtime_spec_replaces_its_instances_and_the_model_keeps_serving(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(runtime_yaml("rolling", "sklearn", memory="1Gi"))
        emu.apply_text(isvc_yaml("steady", "sklearn", SVM))
        assert predict(emu, "steady") == [8]
        before = pods(emu)
        old_instance = emu.call(lambda: emu.emulator.pool.handles()[0].instance)
        old_processes = runtime_processes(emu.emulator.settings.cache_dir)

        with Requests(emu, "steady") as requests:
            emu.apply_text(runtime_yaml("rolling", "sklearn", memory="512Mi"))
            wait_for(lambda: set(pods(emu)) - set(before) and len(pods(emu)) == 1)
            time.sleep(0.3)
        after = pods(emu)
        status = isvc_status(emu, "steady")
        old_gone = eventually(lambda: not old_processes & runtime_processes(emu.emulator.settings.cache_dir))

    (capacity_before,), (capacity_after,) = before.values(), after.values()
    assert capacity_before - capacity_after == pytest.approx(512 * MIB, rel=0.05), "new memory request"
    assert set(after).isdisjoint(before)
    assert not old_instance.is_running(), "the old instance still runs"
    assert len(old_processes) >= 2 and old_gone, "the old instance's workers outlived it"
    assert requests.errors == [] and set(requests.answers) == {8}
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
    assert status["modelStatus"]["copies"] == {"failedCopies": 0, "totalCopies": 1}


def test_reapplying_a_runtime_or_changing_only_its_labels_changes_nothing(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    yaml = runtime_yaml("stable", "sklearn", memory="1Gi")
    labelled = yaml.replace("  name: stable", "  name: stable\n  labels: {team: blue}\n"
                                              "  annotations: {note: reviewed}")
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(yaml)
        emu.apply_text(isvc_yaml("untouched", "sklearn", SVM))
        assert predict(emu, "untouched") == [8]
        before, loads_before = pods(emu), loads(emu)

        unchanged = emu.apply_text(yaml)
        configured = emu.apply_text(labelled)
        time.sleep(1.0)
        after, loads_after = pods(emu), loads(emu)
        answer = predict(emu, "untouched")

    assert unchanged == ["servingruntime/stable unchanged"]
    assert configured == ["servingruntime/stable configured"]
    assert after == before
    assert loads_after == loads_before
    assert answer == [8]


def test_deleting_the_only_supporting_runtime_fails_its_models_until_it_is_created_again(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    yaml = runtime_yaml("only", "sklearn", memory="1Gi")
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(yaml)
        emu.apply_text(isvc_yaml("orphan", "sklearn", SVM))
        response = grpc_infer(emu.grpc_address, digit_request("orphan"))
        instance = emu.call(lambda: emu.emulator.pool.handles()[0].instance)
        files = [instance.models_dir / response.model_name,
                 instance.models_dir / "_mlserver_models" / response.model_name]
        assert all(path.exists() for path in files)

        emu.delete("servingruntime", "only")
        wait_for(lambda: isvc_status(emu, "orphan")["modelStatus"]["states"]["activeModelState"] == "FailedToLoad")
        failed = isvc_status(emu, "orphan")
        with pytest.raises(grpc.RpcError) as caught:
            predict(emu, "orphan")
        wait_for(lambda: not instance.is_running(), timeout=30)

        emu.apply_text(yaml)
        reloaded = wait_until_settled(emu, "orphan")
        answer = predict(emu, "orphan")

    status = failed["modelStatus"]
    assert status["states"] == {"activeModelState": "FailedToLoad", "targetModelState": ""}
    assert status["lastFailureInfo"]["reason"] == "NoSupportingRuntime"
    assert status["lastFailureInfo"]["message"] == NO_RUNTIME
    assert "location" not in status["lastFailureInfo"]
    assert failed["conditions"][0] == {"type": "PredictorReady", "status": "False"}
    assert caught.value.details() == NO_RUNTIME
    assert not any(path.exists() for path in files), "the model's files are still on disk"
    assert reloaded["modelStatus"]["states"]["activeModelState"] == "Loaded"
    assert "lastFailureInfo" not in reloaded["modelStatus"]
    assert answer == [8]


def test_deleting_a_runtime_moves_its_models_to_another_supporting_runtime(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(runtime_yaml("first", "sklearn", memory="1Gi"))
        emu.apply_text(isvc_yaml("mover", "sklearn", SVM))
        assert predict(emu, "mover") == [8]
        emu.apply_text(runtime_yaml("second", "sklearn", memory="512Mi"))

        emu.delete("servingruntime", "first")
        wait_for(lambda: len(pods(emu)) == 1 and "second-" in next(iter(pods(emu)))
                 and isvc_status(emu, "mover")["modelStatus"]["copies"]["totalCopies"] == 1)
        status = wait_until_settled(emu, "mover")["modelStatus"]
        answer = predict(emu, "mover")
        where = list(pods(emu))

    assert status["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
    assert "lastFailureInfo" not in status
    assert answer == [8]
    assert len(where) == 1 and "second-" in where[0]


@pytest.mark.parametrize("change", ["disabled", "format dropped"])
def test_a_runtime_that_no_longer_serves_a_model_type_leaves_its_models_without_runtime(
        make_settings: Callable[..., Settings], sample_s3_root: Path, change: str) -> None:
    yaml = runtime_yaml("narrowing", "sklearn", memory="1Gi")
    changed = (yaml.replace("  multiModel: true", "  multiModel: true\n  disabled: true") if change == "disabled"
               else yaml.replace("{name: sklearn,", "{name: xgboost,"))
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(yaml)
        emu.apply_text(isvc_yaml("left-behind", "sklearn", SVM))
        assert predict(emu, "left-behind") == [8]

        emu.apply_text(changed)
        wait_for(lambda: isvc_status(emu, "left-behind")["modelStatus"]["states"]["activeModelState"]
                 == "FailedToLoad")
        failure = isvc_status(emu, "left-behind")["modelStatus"]["lastFailureInfo"]
        wait_for(lambda: not pods(emu))

    assert (failure["reason"], failure["message"]) == ("NoSupportingRuntime", NO_RUNTIME)


def test_fewer_replicas_stop_the_extra_instances_and_the_model_keeps_serving(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    two = runtime_yaml("scaling", "sklearn", memory="1Gi").replace("  multiModel: true",
                                                                      "  multiModel: true\n  replicas: 2")
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(two)
        emu.apply_text(isvc_yaml("kept", "sklearn", SVM))
        assert predict(emu, "kept") == [8]
        before = pods(emu)

        emu.apply_text(two.replace("replicas: 2", "replicas: 1"))
        wait_for(lambda: len(pods(emu)) == 1)
        status = wait_until_settled(emu, "kept")["modelStatus"]
        answer = predict(emu, "kept")
        after = pods(emu)

    assert len(before) == 2
    assert set(after) < set(before), "the remaining instance was not replaced"
    assert status["states"]["activeModelState"] == "Loaded"
    assert answer == [8]


def test_while_the_new_spec_cannot_start_the_old_instances_keep_serving(
        make_settings: Callable[..., Settings], sample_s3_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(runtime_yaml("stuck", "sklearn", memory="1Gi"))
        emu.apply_text(isvc_yaml("patient", "sklearn", SVM))
        assert predict(emu, "patient") == [8]
        before = pods(emu)

        with caplog.at_level(logging.WARNING, logger="emulator.placement.placement"):
            emu.apply_text(runtime_yaml("stuck", "sklearn", memory="1Gi",
                                        env={"MLSERVER_PARALLEL_WORKERS": "not-a-number"}))
            wait_for(lambda: any("new instances do not start" in r.getMessage() for r in caplog.records))
        during, answer_during = pods(emu), predict(emu, "patient")

        emu.apply_text(runtime_yaml("stuck", "sklearn", memory="512Mi"))
        wait_for(lambda: len(pods(emu)) == 1 and set(pods(emu)).isdisjoint(before))
        answer_after = predict(emu, "patient")
        status = isvc_status(emu, "patient")["modelStatus"]

    assert during == before
    assert answer_during == answer_after == [8]
    assert status["states"]["activeModelState"] == "Loaded"
