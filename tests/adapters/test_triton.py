"""ModelMesh's triton-2.x runtime, its manifest unchanged from ../shared, run by the process launcher with the real
`tritonserver` of PyPI's nvidia-pytriton (`make triton`), serving the Python-backend samples of
sample_models/triton_models.py through the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import yaml

from emulator.errors import RuntimeStartError
from emulator.launchers.triton_dist import find_triton
from emulator.settings import Settings
from emulator.testing import EmulatorThread, InferError
from emulator.v2_protos import dataplane_pb2
from tests.conftest import UPSTREAM_EXAMPLES
from tests.model_status import eventually, isvc_status, wait_until_settled
from tests.sample_buckets import sample_bucket

pytestmark = pytest.mark.integration

MANIFEST = UPSTREAM_EXAMPLES / "testdata" / "config" / "runtimes" / "triton-2.x.yaml"
A = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
B = np.array([0.5, 0.25, 2.0, 8.0], dtype=np.float32)


def isvc_yaml(name: str, path: str, runtime: str = "triton-2.x") -> str:
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      modelFormat: {{name: python}}
      runtime: {runtime}
      storage: {{key: localMinIO, path: {path}}}
"""


@pytest.fixture(scope="module")
def triton_bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MANIFEST.is_file():
        pytest.skip(f"{MANIFEST} is not present")
    try:
        find_triton(None, runtime_name="triton-2.x")
    except RuntimeStartError as exc:
        pytest.skip(f"no runnable Triton: {exc}")
    return sample_bucket(tmp_path_factory, "triton_models")


@pytest.fixture(scope="module")
def triton(make_settings: Callable[..., Settings], triton_bucket: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(make_settings(local_s3_root=triton_bucket)) as emu:
        emu.apply(MANIFEST)
        emu.apply_text(isvc_yaml("add-sub", "triton/add-sub"))
        emu.apply_text(isvc_yaml("broken", "triton/broken"))
        yield emu


def triton_models(emu: EmulatorThread) -> dict[str, str]:
    """What the Triton servers themselves say is in their repositories: model name → state."""
    states: dict[str, str] = {}
    for address in emu.call(lambda: [h.instance.ports.management for h in emu.emulator.pool.handles()]):
        with grpc.insecure_channel(address) as channel:
            index = channel.unary_unary(
                "/inference.GRPCInferenceService/RepositoryIndex",
                request_serializer=dataplane_pb2.RepositoryIndexRequest.SerializeToString,
                response_deserializer=dataplane_pb2.RepositoryIndexResponse.FromString,
            )(dataplane_pb2.RepositoryIndexRequest(), timeout=30)
        states.update({model.name: model.state for model in index.models})
    return states


def assert_add_sub_answers_over_grpc_and_rest(triton: EmulatorThread) -> None:
    """The add-sub sample answers A + B and A - B over both transports, and the Triton holding it says READY."""
    grpc_reply = triton.client.infer("add-sub", {"INPUT0": A, "INPUT1": B})
    rest_reply = triton.client.infer_rest("add-sub", {"INPUT0": A, "INPUT1": B})
    status = wait_until_settled(triton, "add-sub")

    for reply in (grpc_reply, rest_reply):
        np.testing.assert_allclose(reply["OUTPUT0"], A + B)
        np.testing.assert_allclose(reply["OUTPUT1"], A - B)
        assert reply.model_name.startswith("add-sub__isvc-")
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
    assert triton_models(triton)[grpc_reply.model_name] == "READY"


def test_infer_over_grpc_and_rest_reaches_the_python_backend_model(triton: EmulatorThread) -> None:
    assert_add_sub_answers_over_grpc_and_rest(triton)


def test_a_model_that_fails_in_triton_is_failed_to_load_with_tritons_message(triton: EmulatorThread) -> None:
    status = wait_until_settled(triton, "broken")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert status["lastFailureInfo"]["message"].startswith("Failed to load Model due to Triton runtime error:")
    assert "this sample model is broken on purpose" in status["lastFailureInfo"]["message"]
    with pytest.raises(InferError) as caught:
        triton.client.infer("broken", {"INPUT0": A, "INPUT1": B})
    assert "broken on purpose" in caught.value.details()


def test_deleting_the_inference_service_unloads_the_model_from_triton(triton: EmulatorThread) -> None:
    triton.apply_text(isvc_yaml("short-lived", "triton/add-sub"))
    concrete = triton.client.infer("short-lived", {"INPUT0": A, "INPUT1": B}).model_name
    assert triton_models(triton)[concrete] == "READY"

    triton.call(lambda: triton.emulator.registry.delete("InferenceService", "short-lived"))

    assert eventually(lambda: triton_models(triton).get(concrete) != "READY")
    assert eventually(lambda: not any(path.name == concrete
                                       for path in Path(triton.emulator.work_dir).rglob("_triton_models/*")))


def small_runtime_yaml(name: str, capacity_bytes: int) -> str:
    """The upstream triton-2.x runtime under another name, with memory for `capacity_bytes` of models and the
    adapter's size estimate before a load (DEFAULT_MODELSIZE) at one 8 KiB cache unit, as the samples' size."""
    runtime = yaml.safe_load(MANIFEST.read_text())
    runtime["metadata"]["name"] = name
    adapter = runtime["spec"]["builtInAdapter"]
    runtime["spec"]["containers"][0]["resources"]["requests"]["memory"] = str(adapter["memBufferBytes"]
                                                                              + capacity_bytes)
    adapter["env"] = [{"name": "DEFAULT_MODELSIZE", "value": "8192"}]
    return yaml.safe_dump(runtime)


def test_more_models_than_fit_evict_the_least_recently_used_from_triton(
        make_settings: Callable[..., Settings], triton_bucket: Path) -> None:
    settings = make_settings(local_s3_root=triton_bucket, load_on_apply=False, min_churn_age_s=0)
    with EmulatorThread(settings) as emu:
        emu.apply_text(small_runtime_yaml("triton-small", 2 * 8192))  # two 8 KiB cache units: two tiny models
        for name in ("m1", "m2", "m3"):
            emu.apply_text(isvc_yaml(name, "triton/add-sub", runtime="triton-small"))
        concrete = {}
        for name in ("m1", "m2", "m3"):
            reply = emu.client.infer(name, {"INPUT0": A, "INPUT1": B})
            np.testing.assert_allclose(reply["OUTPUT0"], A + B)
            concrete[name] = reply.model_name
        in_triton = triton_models(emu)
        m1_state = isvc_status(emu, "m1")["modelStatus"]["states"]["activeModelState"]

    assert in_triton.get(concrete["m1"]) != "READY"
    assert in_triton[concrete["m2"]] == "READY"
    assert in_triton[concrete["m3"]] == "READY"
    assert m1_state == "Standby"
