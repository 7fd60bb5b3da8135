"""Placement recovering the way ModelMesh does, with real MLServer runtimes: a deleted and at once re-applied
InferenceService loads cleanly, failed loads are retried in the background once their failure record expires,
and proactive loads never evict a model used more recently than the age they are given."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from emulator.control.describe import describe
from emulator.control.views import model_placement
from emulator.launchers.ports import free_port
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import BUCKET, ROOT
from tests.e2e.test_lifecycle import SVM, instance_bytes, isvc_yaml, loaded_models, predict, runtime_yaml
from tests.model_status import eventually, isvc_status, wait_until_settled
from tests.s3_server import S3Server
from tests.v2_client import expected_outputs

pytestmark = pytest.mark.integration

NAMESPACE = "modelmesh-serving"


# -- proactive loads and the LRU ---------------------------------------------------------------------------


def runtime_with_room_for_two_svms() -> str:
    """Capacity 200 units (8 KiB): two SVM copies (83 units each) fit, but not beside two loads still reserving
    their predicted 300 kB (37 units) each."""
    yaml = runtime_yaml("room-for-two", "sklearn", memory=str(134217728 + 218 * 8192))
    return yaml.replace("    modelLoadingTimeoutMillis: 90000",
                        "    modelLoadingTimeoutMillis: 90000\n    env: [{name: DEFAULT_MODELSIZE, value: \"300000\"}]")


def test_models_loaded_on_apply_never_evict_one_a_request_just_used(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    expected = expected_outputs("example-sklearn-mnist-svm")[0]["data"]
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root, min_churn_age_s=0)) as emu:
        emu.apply_text(runtime_with_room_for_two_svms())
        emu.apply_text("---".join(isvc_yaml(f"lru-{name}", "sklearn", SVM) for name in "abcd"))
        first_answer = predict(emu, "lru-a")  # answered while the other three are still loading
        others = [wait_until_settled(emu, f"lru-{name}")["modelStatus"]["states"]["activeModelState"]
                  for name in "bcd"]
        resident = loaded_models(emu)
        loads_of_a = emu.call(lambda: emu.emulator.placement.vmodel("lru-a", NAMESPACE).active.loads)
        second_answer = predict(emu, "lru-a")
        usage = instance_bytes(emu)

    assert first_answer == second_answer == expected
    assert "lru-a" in resident, f"lru-a was evicted; resident: {resident}, others: {others}"
    assert loads_of_a == 1
    assert len(resident) == 2
    assert all(used <= capacity for used, capacity in usage)


def test_a_request_for_a_model_queued_behind_loads_on_apply_is_loaded_before_them(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])  # one load at a time
        emu.apply_text("---".join(isvc_yaml(f"queued-{name}", "sklearn", SVM) for name in "abcd"))
        answer = predict(emu, "queued-d")  # sent while the runtime starts: all four loads are queued
        for name in "abc":
            wait_until_settled(emu, f"queued-{name}")
        loaded_at = emu.call(lambda: {vmodel.model.name[-1]: vmodel.active.copies[vmodel.active.handle.location]
                                      .loaded_at for vmodel in emu.emulator.placement.vmodels()})

    assert answer == [8]
    assert sum(loaded_at[name] > loaded_at["d"] for name in "abc") >= 2, loaded_at

# -- delete, then apply the same InferenceService again at once ----------------------------------------------


def test_delete_then_immediate_reapply_of_a_loaded_model_loads_it_again(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    manifest = isvc_yaml("reapplied", "sklearn", SVM)
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        emu.apply_text(manifest)
        before = wait_until_settled(emu, "reapplied")["modelStatus"]["states"]["activeModelState"]
        answers = []
        for _ in range(3):
            emu.delete("isvc", "reapplied")
            emu.apply_text(manifest)
            status = wait_until_settled(emu, "reapplied")["modelStatus"]
            answers.append((status["states"]["activeModelState"], status.get("lastFailureInfo"),
                            predict(emu, "reapplied")))

    assert before == "Loaded"
    assert answers == [("Loaded", None, [8])] * 3


def test_delete_then_immediate_reapply_while_the_first_load_runs_loads_it(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    manifest = isvc_yaml("reapplied-early", "sklearn", SVM)
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        emu.apply_text(isvc_yaml("warm-up", "sklearn", SVM))
        wait_until_settled(emu, "warm-up")  # the runtime is up: the next load starts at once
        emu.apply_text(manifest)
        emu.delete("isvc", "reapplied-early")
        emu.apply_text(manifest)
        status = wait_until_settled(emu, "reapplied-early")["modelStatus"]
        answer = predict(emu, "reapplied-early")

    assert status["states"]["activeModelState"] == "Loaded", status
    assert "lastFailureInfo" not in status
    assert answer == [8]


# -- failed loads are retried in the background ---------------------------------------------------------------


def described(emu: EmulatorThread, name: str) -> str:
    def render() -> str:
        obj = emu.emulator.registry.get("InferenceService", name, NAMESPACE)
        return describe({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                         "metadata": {"name": name, "namespace": NAMESPACE}}, model_placement(emu.emulator, obj))

    return emu.call(render)


def test_a_load_failed_during_an_s3_outage_is_retried_in_the_background_once_s3_is_back(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    port = free_port()
    with S3Server(port) as s3:
        s3.seed_dir(BUCKET, sample_s3_root / BUCKET)
    settings = make_settings(s3_endpoint=f"http://127.0.0.1:{port}", storage_retries=0,
                             load_failure_expiry_s=3.0, failure_janitor_interval_s=0.5)
    restarted = S3Server(port)
    try:
        with EmulatorThread(settings) as emu:
            emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
            emu.apply_text(isvc_yaml("outage", "sklearn", SVM))
            failed = wait_until_settled(emu, "outage")["modelStatus"]
            with pytest.raises(grpc.RpcError) as refused:
                predict(emu, "outage")
            text, described_at = described(emu, "outage"), time.time()

            restarted.start()  # S3 is back; nobody sends a request until the model is Loaded
            loaded = eventually(lambda: isvc_status(emu, "outage")["modelStatus"]["states"]["activeModelState"]
                                == "Loaded")
            status = isvc_status(emu, "outage")["modelStatus"]
            answer = predict(emu, "outage")
    finally:
        restarted.stop()

    assert failed["states"]["activeModelState"] == "FailedToLoad"
    assert failed["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert "unreachable" in failed["lastFailureInfo"]["message"]
    assert refused.value.code() == grpc.StatusCode.INTERNAL
    assert refused.value.details() == failed["lastFailureInfo"]["message"]
    next_retry = [line for line in text.splitlines() if line.startswith("    Next Retry:  ")]
    assert len(next_retry) == 1, text
    due = calendar.timegm(time.strptime(next_retry[0].split()[2], "%Y-%m-%dT%H:%M:%SZ"))
    assert described_at - 1 <= due <= described_at + 3.0 + 0.5, next_retry
    assert loaded
    assert "lastFailureInfo" not in status
    assert answer == [8]
