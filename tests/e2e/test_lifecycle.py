"""ModelMesh's model lifecycle with real MLServer runtimes and small memory budgets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from mlserver.grpc import dataplane_pb2

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.model_status import isvc_status, maybe_isvc_status, wait_until_settled
from tests.v2_client import expected_outputs, grpc_infer, grpc_request

pytestmark = pytest.mark.integration

SLOW_FLAKY_SOURCE = Path(__file__).resolve().parents[1] / "runtimes" / "slow_flaky"
SVM = "sklearn/mnist-svm.joblib"
MIB = 1024 * 1024


def runtime_yaml(name: str, model_format: str, *, memory: str, timeout_ms: int = 90000,
                 env: dict[str, str] | None = None, source: Path | None = None) -> str:
    env_yaml = "".join(f"\n        - {{name: {key}, value: \"{value}\"}}" for key, value in (env or {}).items())
    annotations = f"\n  annotations: {{modelmesh-emulator/source: {source}}}" if source else ""
    return f"""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: {name}{annotations}
spec:
  supportedModelFormats: [{{name: {model_format}, version: "1", autoSelect: true}}]
  protocolVersions: [grpc-v2]
  multiModel: true
  grpcEndpoint: "port:8085"
  grpcDataEndpoint: "port:8001"
  containers:
    - name: mlserver
      image: seldonio/mlserver:1.3.2
      env:
        - {{name: MLSERVER_MODELS_DIR, value: "/models/_mlserver_models/"}}
        - {{name: MLSERVER_GRPC_PORT, value: "8001"}}
        - {{name: MLSERVER_HTTP_PORT, value: "8002"}}
        - {{name: MLSERVER_LOAD_MODELS_AT_STARTUP, value: "false"}}
        - {{name: MLSERVER_MODEL_NAME, value: dummy-model-fixme}}
        - {{name: MLSERVER_HOST, value: "127.0.0.1"}}{env_yaml}
      resources:
        requests: {{cpu: 500m, memory: {memory}}}
        limits: {{cpu: "2", memory: 1Gi}}
  builtInAdapter:
    serverType: mlserver
    runtimeManagementPort: 8001
    memBufferBytes: 134217728
    modelLoadingTimeoutMillis: {timeout_ms}
"""


def isvc_yaml(name: str, model_format: str, path: str, key: str = "localMinIO") -> str:
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      modelFormat: {{name: {model_format}}}
      storage: {{key: {key}, path: {path}}}
"""


def digit_request(name: str) -> dataplane_pb2.ModelInferRequest:
    request = grpc_request("example-sklearn-mnist-svm")
    request.model_name = name
    return request


def predict(emu: EmulatorThread, name: str) -> list[int]:
    return list(grpc_infer(emu.grpc_address, digit_request(name)).outputs[0].contents.int64_contents)


def loaded_models(emu: EmulatorThread) -> set[str]:
    return emu.call(lambda: {vm.model.name for vm in emu.emulator.placement.vmodels()
                             if vm.active.servable_copies()})


def instance_bytes(emu: EmulatorThread) -> list[tuple[int, int]]:
    return emu.call(lambda: [(h.cache.used_bytes, h.cache.capacity_bytes) for h in emu.emulator.pool.handles()])


class StatusRecorder:
    """Polls an InferenceService's status on a thread and keeps every distinct (active, target, transition)."""

    def __init__(self, emu: EmulatorThread, name: str):
        self.emu, self.name, self.seen = emu, name, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            full = maybe_isvc_status(self.emu, self.name)
            if full is None:
                time.sleep(0.01)
                continue
            status = full["modelStatus"]
            entry = (status["states"]["activeModelState"], status["states"]["targetModelState"],
                     status["transitionStatus"])
            if not self.seen or self.seen[-1] != entry:
                self.seen.append(entry)
            time.sleep(0.01)

    def __enter__(self) -> StatusRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the LRU cache ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_budget(make_settings: Callable[..., Settings], sample_s3_root: Path) -> Iterator[EmulatorThread]:
    """A runtime whose capacity (2 MiB) holds two copies of the sample SVM (~660 KiB each), four ISVCs of it."""
    settings = make_settings(local_s3_root=sample_s3_root, load_on_apply=False, min_churn_age_s=0)
    with EmulatorThread(settings) as emu:
        emu.apply_text(runtime_yaml("small", "sklearn", memory="130Mi"))
        for name in "abcd":
            emu.apply_text(isvc_yaml(f"svm-{name}", "sklearn", SVM))
        yield emu


def test_requests_cycling_through_more_models_than_fit_evict_the_least_recently_used(
        small_budget: EmulatorThread) -> None:
    emu = small_budget
    expected = expected_outputs("example-sklearn-mnist-svm")[0]["data"]
    steps = [("svm-a", {"svm-a"}), ("svm-b", {"svm-a", "svm-b"}), ("svm-c", {"svm-b", "svm-c"}),
             ("svm-b", {"svm-b", "svm-c"}), ("svm-d", {"svm-b", "svm-d"}), ("svm-a", {"svm-d", "svm-a"})]

    for name, resident in steps:
        assert predict(emu, name) == expected
        assert loaded_models(emu) == resident, f"after a request to {name}"
        for used, capacity in instance_bytes(emu):
            assert used <= capacity

    status = isvc_status(emu, "svm-c")["modelStatus"]
    assert status["states"]["activeModelState"] == "Standby"
    assert status["copies"] == {"failedCopies": 0, "totalCopies": 0}


def test_metrics_show_loads_evictions_requests_and_capacity(small_budget: EmulatorThread) -> None:
    emu = small_budget
    for name in ("svm-a", "svm-b", "svm-c"):
        predict(emu, name)

    text = httpx.get(f"http://127.0.0.1:{emu.emulator.settings.metrics_port}/metrics").text
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line and not line.startswith("#")}

    assert samples["modelmesh_loadmodel_milliseconds_count"] >= 3
    assert samples["modelmesh_unloadmodel_milliseconds_count"] >= 1
    assert samples["modelmesh_age_at_eviction_milliseconds_count"] >= 1
    assert samples['modelmesh_api_request_milliseconds_count{code="OK",method="ModelInfer"}'] >= 3
    assert samples['modelmesh_invoke_model_milliseconds_count{code="OK",method="ModelInfer"}'] >= 3
    assert samples["modelmesh_cache_miss_milliseconds_count"] >= 1
    assert samples["modelmesh_models_managed_total"] == 4
    assert samples["modelmesh_models_loaded_total"] == 2
    pod = next(key for key in samples if key.startswith("modelmesh_instance_capacity_bytes"))
    used = samples[pod.replace("capacity", "used")]
    assert 0 < used <= samples[pod]
    assert samples[pod.replace("capacity_bytes", "models_total")] == 2


def test_a_model_larger_than_the_whole_capacity_fails_clearly(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(runtime_yaml("tiny", "sklearn", memory="128.5Mi"))
        emu.apply_text(isvc_yaml("too-big", "sklearn", SVM))
        status = wait_until_settled(emu, "too-big")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert "is larger than total effective capacity of" in status["lastFailureInfo"]["message"]


def test_churn_guard_refuses_to_evict_recently_used_models(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root, load_on_apply=False)  # ModelMesh's 300 s default
    with EmulatorThread(settings) as emu:
        emu.apply_text(runtime_yaml("small", "sklearn", memory="130Mi"))
        for name in "abc":
            emu.apply_text(isvc_yaml(f"svm-{name}", "sklearn", SVM))
        predict(emu, "svm-a")
        predict(emu, "svm-b")
        with pytest.raises(grpc.RpcError) as caught:
            predict(emu, "svm-c")
        still_loaded = loaded_models(emu)
        state = isvc_status(emu, "svm-c")["modelStatus"]["states"]["activeModelState"]

    assert caught.value.details() == "Cache churn threshold exceeded"
    assert still_loaded == {"svm-a", "svm-b"}
    assert state == "Pending"


# -- status sequences, transitions, timeouts and retries ---------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle(make_settings: Callable[..., Settings], sample_s3_root: Path) -> Iterator[EmulatorThread]:
    settings = make_settings(local_s3_root=sample_s3_root, load_failure_expiry_s=2.0, failure_janitor_interval_s=0.5)
    with EmulatorThread(settings) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        emu.apply_text(runtime_yaml("slow-flaky", "slow-flaky", memory="1Gi", timeout_ms=1500,
                                    env={"MLSERVER_MODEL_IMPLEMENTATION": "slow_flaky.SlowFlakyModel",
                                         "MLSERVER_PARALLEL_WORKERS": "0"},
                                    source=SLOW_FLAKY_SOURCE))
        yield emu


def write_behaviour(root: Path, key: str, behaviour: dict[str, object]) -> str:
    path = root / "modelmesh-example-models" / "testing" / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(behaviour))
    return f"testing/{key}.json"


def sum_request(name: str) -> dataplane_pb2.ModelInferRequest:
    request = dataplane_pb2.ModelInferRequest(model_name=name)
    tensor = request.inputs.add(name="x", datatype="FP64", shape=[3])
    tensor.contents.fp64_contents.extend([1.0, 2.0, 3.5])
    return request


def test_create_moves_forward_to_loaded(lifecycle: EmulatorThread) -> None:
    with StatusRecorder(lifecycle, "fvt-create") as recorder:
        lifecycle.apply_text(isvc_yaml("fvt-create", "sklearn", SVM))
        final = wait_until_settled(lifecycle, "fvt-create")
        time.sleep(0.05)

    order = ["Pending", "Loading", "Standby", "FailedToLoad", "Loaded"]
    actives = [order.index(active) for active, _, _ in recorder.seen]
    assert actives == sorted(actives), recorder.seen
    assert recorder.seen[-1] == ("Loaded", "", "UpToDate")
    assert final["conditions"][0] == {"type": "PredictorReady", "status": "True"}
    assert "lastFailureInfo" not in final["modelStatus"]


def test_update_keeps_the_old_model_serving_until_the_new_one_is_loaded(
        lifecycle: EmulatorThread, sample_s3_root: Path) -> None:
    slow = write_behaviour(sample_s3_root, "slow-ok", {"load_delay_s": 0.8})
    lifecycle.apply_text(isvc_yaml("fvt-update", "slow-flaky", write_behaviour(sample_s3_root, "fast", {})))
    wait_until_settled(lifecycle, "fvt-update")
    old_id = grpc_infer(lifecycle.grpc_address, sum_request("fvt-update")).model_name

    with StatusRecorder(lifecycle, "fvt-update") as recorder:
        lifecycle.apply_text(isvc_yaml("fvt-update", "slow-flaky", slow))
        during = grpc_infer(lifecycle.grpc_address, sum_request("fvt-update")).model_name
        final = wait_until_settled(lifecycle, "fvt-update")
        time.sleep(0.05)
    after = grpc_infer(lifecycle.grpc_address, sum_request("fvt-update"))

    assert during == old_id
    assert ("Loaded", "Loading", "InProgress") in recorder.seen
    assert recorder.seen[-1] == ("Loaded", "", "UpToDate")
    assert final["modelStatus"]["copies"] == {"failedCopies": 0, "totalCopies": 1}
    assert after.model_name != old_id
    assert list(after.outputs[0].contents.fp64_contents) == [6.5]


def test_failed_update_is_blocked_and_the_old_model_keeps_serving(
        lifecycle: EmulatorThread, sample_s3_root: Path) -> None:
    lifecycle.apply_text(isvc_yaml("fvt-update-fail", "sklearn", SVM))
    wait_until_settled(lifecycle, "fvt-update-fail")
    old_id = grpc_infer(lifecycle.grpc_address, digit_request("fvt-update-fail")).model_name

    lifecycle.apply_text(isvc_yaml("fvt-update-fail", "sklearn", "invalid/path"))
    status = wait_until_settled(lifecycle, "fvt-update-fail")

    model_status = status["modelStatus"]
    assert model_status["states"] == {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"}
    assert model_status["transitionStatus"] == "BlockedByFailedLoad"
    failure = model_status["lastFailureInfo"]
    assert failure["reason"] == "ModelLoadFailed"
    assert failure["location"]
    assert failure["message"]
    assert time.time() - time.mktime(time.strptime(failure["time"], "%Y-%m-%dT%H:%M:%SZ")) + time.timezone < 60
    assert status["conditions"][0]["status"] == "True"
    assert grpc_infer(lifecycle.grpc_address, digit_request("fvt-update-fail")).model_name == old_id


def test_a_load_slower_than_model_loading_timeout_fails_with_modelmeshs_text(
        lifecycle: EmulatorThread, sample_s3_root: Path) -> None:
    lifecycle.apply_text(isvc_yaml("too-slow", "slow-flaky",
                                   write_behaviour(sample_s3_root, "too-slow", {"load_delay_s": 5})))
    status = wait_until_settled(lifecycle, "too-slow")["modelStatus"]

    concrete = status["lastFailureInfo"]["modelRevisionName"]
    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["message"] == f"Load of model {concrete} timed out after 1sec"


def test_a_failed_load_is_retried_after_the_expiry_and_the_failure_is_visible_meanwhile(
        lifecycle: EmulatorThread, sample_s3_root: Path, tmp_path: Path) -> None:
    path = write_behaviour(sample_s3_root, "flaky", {"fail_first_load_marker": str(tmp_path / "attempted")})
    lifecycle.apply_text(isvc_yaml("flaky", "slow-flaky", path))
    failed = wait_until_settled(lifecycle, "flaky")["modelStatus"]
    with pytest.raises(grpc.RpcError) as caught:
        grpc_infer(lifecycle.grpc_address, sum_request("flaky"))

    time.sleep(2.1)  # load_failure_expiry_s: the janitor has retried the load
    retried = grpc_infer(lifecycle.grpc_address, sum_request("flaky"))

    assert failed["states"]["activeModelState"] == "FailedToLoad"
    assert "first load fails on purpose" in failed["lastFailureInfo"]["message"]
    assert "first load fails on purpose" in caught.value.details()
    assert list(retried.outputs[0].contents.fp64_contents) == [6.5]
    assert isvc_status(lifecycle, "flaky")["modelStatus"]["states"]["activeModelState"] == "Loaded"


def test_deleting_an_inference_service_unloads_it_and_removes_its_files(lifecycle: EmulatorThread) -> None:
    lifecycle.apply_text(isvc_yaml("to-delete", "sklearn", SVM))
    response = grpc_infer(lifecycle.grpc_address, digit_request("to-delete"))
    handle = lifecycle.call(lambda: lifecycle.emulator.placement.vmodel("to-delete", "modelmesh-serving").active.handle)
    files = [handle.instance.models_dir / response.model_name,
             handle.instance.models_dir / "_mlserver_models" / response.model_name]
    assert all(path.exists() for path in files)

    lifecycle.delete("isvc", "to-delete")
    deadline = time.monotonic() + 10
    while any(path.exists() for path in files) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not any(path.exists() for path in files)


# -- instances: scale to zero and second copies ------------------------------------------------------------


def test_a_runtime_with_no_inference_service_scales_to_zero_and_back(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root, scale_to_zero_grace_s=1.0)
    with EmulatorThread(settings) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        emu.apply_text(isvc_yaml("scaled", "sklearn", SVM))
        assert predict(emu, "scaled") == [8]
        instance = emu.call(lambda: emu.emulator.pool.handles()[0].instance)

        emu.delete("isvc", "scaled")
        time.sleep(0.5)
        up_during_grace = len(emu.call(emu.emulator.pool.handles))
        deadline = time.monotonic() + 15
        while emu.call(emu.emulator.pool.handles) and time.monotonic() < deadline:
            time.sleep(0.1)
        down = not emu.call(emu.emulator.pool.handles)

        emu.apply_text(isvc_yaml("scaled", "sklearn", SVM))
        answer_after = predict(emu, "scaled")

    assert up_during_grace == 1
    assert down
    assert not instance.is_running(), "the scaled-down instance's process or container still runs"
    assert answer_after == [8]


def test_a_regularly_used_model_gets_a_second_copy_on_another_instance(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    settings = make_settings(local_s3_root=sample_s3_root, pods_per_runtime=2, second_copy_min_age_s=0.3,
                             second_copy_max_age_s=60)
    with EmulatorThread(settings) as emu:
        emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        emu.apply_text(isvc_yaml("popular", "sklearn", SVM))
        assert predict(emu, "popular") == [8]
        one_copy = wait_until_settled(emu, "popular")["modelStatus"]["copies"]
        time.sleep(1.1)
        assert predict(emu, "popular") == [8]
        deadline = time.monotonic() + 30
        copies = one_copy
        while copies["totalCopies"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            copies = isvc_status(emu, "popular")["modelStatus"]["copies"]
        answers = {predict(emu, "popular")[0] for _ in range(4)}
        locations = emu.call(lambda: set(emu.emulator.placement.vmodel("popular", "modelmesh-serving").active.copies))

    assert one_copy == {"failedCopies": 0, "totalCopies": 1}
    assert copies == {"failedCopies": 0, "totalCopies": 2}
    assert len(locations) == 2
    assert answers == {8}


def test_a_runtime_that_cannot_start_reports_runtime_unhealthy_with_its_log(
        make_settings: Callable[..., Settings], sample_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        emu.apply_text(runtime_yaml("broken", "sklearn", memory="1Gi",
                                    env={"MLSERVER_PARALLEL_WORKERS": "not-a-number"}))
        emu.apply_text(isvc_yaml("on-broken", "sklearn", SVM))
        status = wait_until_settled(emu, "on-broken")["modelStatus"]

    failure = status["lastFailureInfo"]
    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert failure["reason"] == "RuntimeUnhealthy"
    assert "location" not in failure
    assert "runtime 'broken'" in failure["message"]
    assert "parallel_workers" in failure["message"]
