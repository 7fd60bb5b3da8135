"""ModelMesh's torchserve-0.x runtime, its manifest unchanged from ../shared, run by the process launcher with real
TorchServe (PyPI's torchserve, Java 17), serving the `.mar` samples of sample_models/torchserve_models.py through
the emulator's gRPC port with TorchServe's own inference API."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from emulator._generated.torchserve import inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import UPSTREAM_EXAMPLES
from tests.model_status import eventually, wait_until_settled
from tests.sample_buckets import sample_bucket

pytestmark = pytest.mark.integration

MANIFEST = UPSTREAM_EXAMPLES / "testdata" / "config" / "runtimes" / "torchserve-0.x.yaml"
VALUES = [1.5, -2.0, 3.25]


def isvc_yaml(name: str, path: str) -> str:
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      modelFormat: {{name: pytorch-mar}}
      storage: {{key: localMinIO, path: {path}}}
"""


def _missing() -> str | None:
    if not MANIFEST.is_file():
        return f"{MANIFEST} is not present"
    bin_dir = Path(sys.executable).parent
    for tool in ("torchserve", "torch-model-archiver"):
        if shutil.which(tool, path=str(bin_dir)) is None:
            return f"{tool} is not installed in {sys.prefix} (make torchserve)"
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (make torchserve: pip install torch==2.13.0)"
    if shutil.which("java") is None:
        return "TorchServe needs Java (java on PATH)"
    return None


@pytest.fixture(scope="module")
def torchserve_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if reason := _missing():
        pytest.skip(reason)
    return sample_bucket(tmp_path_factory, "torchserve_models")


@pytest.fixture(scope="module")
def torchserve(make_settings: Callable[..., Settings], torchserve_bucket: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(make_settings(local_s3_root=torchserve_bucket)) as emu:
        emu.apply(MANIFEST)
        emu.apply_text(isvc_yaml("doubler", "torchserve/doubler.mar"))
        emu.apply_text(isvc_yaml("broken", "torchserve/broken.mar"))
        yield emu


def predict(emu: EmulatorThread, name: str, values: list[float]) -> list[float]:
    """TorchServe's gRPC Predictions through the emulator: the model name is the InferenceService's."""
    with grpc.insecure_channel(emu.grpc_address) as channel:
        reply = inference_pb2_grpc.InferenceAPIsServiceStub(channel).Predictions(
            inference_pb2.PredictionsRequest(model_name=name, input={"data": json.dumps(values).encode()}),
            timeout=300)
    return json.loads(reply.prediction)


def registered(emu: EmulatorThread) -> set[str]:
    """The models TorchServe itself lists, over its management API."""
    names: set[str] = set()
    for address in emu.call(lambda: [h.instance.ports.management for h in emu.emulator.pool.handles()]):
        with grpc.insecure_channel(address) as channel:
            reply = management_pb2_grpc.ManagementAPIsServiceStub(channel).ListModels(
                management_pb2.ListModelsRequest(limit=100), timeout=30)
        names.update(model["modelName"] for model in json.loads(reply.msg)["models"])
    return names


def test_predictions_over_torchserves_grpc_api_are_routed_to_the_mar_model(torchserve: EmulatorThread) -> None:
    answer = predict(torchserve, "doubler", VALUES)
    status = wait_until_settled(torchserve, "doubler")

    assert answer == [2 * value for value in VALUES]
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
    assert any(name.startswith("doubler__isvc-") for name in registered(torchserve))


def test_a_models_size_is_its_workers_memory_not_its_archive(torchserve: EmulatorThread,
                                                             torchserve_bucket: Path) -> None:
    predict(torchserve, "doubler", VALUES)
    used = torchserve.call(lambda: sum(h.cache.used_bytes for h in torchserve.emulator.pool.handles()))
    archive = (torchserve_bucket / "modelmesh-example-models" / "torchserve" / "doubler.mar").stat().st_size

    # A TorchServe worker is a Python process with torch loaded: tens of MiB at least; the fallback estimate,
    # the archive's size x 2.75, would be a few KiB.
    assert archive * 2.75 < 1024 * 1024
    assert used > 20 * 1024 * 1024


def test_a_mar_that_fails_in_torchserve_is_failed_to_load_with_its_message(torchserve: EmulatorThread) -> None:
    status = wait_until_settled(torchserve, "broken", timeout=300)["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert status["lastFailureInfo"]["message"].startswith("Failed to load model due to TorchServe register error:")
    assert "Failed to start workers for model broken__isvc-" in status["lastFailureInfo"]["message"]
    assert not any(name.startswith("broken__isvc-") for name in registered(torchserve))


def test_deleting_the_inference_service_unregisters_the_model(torchserve: EmulatorThread) -> None:
    torchserve.apply_text(isvc_yaml("short-lived", "torchserve/doubler.mar"))
    assert predict(torchserve, "short-lived", VALUES) == [2 * value for value in VALUES]
    assert any(name.startswith("short-lived__isvc-") for name in registered(torchserve))

    torchserve.call(lambda: torchserve.emulator.registry.delete("InferenceService", "short-lived"))

    assert eventually(lambda: not any(name.startswith("short-lived__isvc-") for name in registered(torchserve)))
    assert eventually(lambda: not any(path.name.startswith("short-lived__isvc-")
                                       for path in Path(torchserve.emulator.work_dir).rglob("_torchserve_models/*")))
