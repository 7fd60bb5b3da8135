"""Upstream's OpenVINO mnist FVT predictor on upstream's ovms-1.x ClusterServingRuntime, both unchanged from
../shared, served by the process launcher through the emulator's OpenVINO Model Server stand-in (the openvino
runtime behind OVMS's config reload/status API, KServe V2 gRPC and TensorFlow Serving's Predict), beside an
xgboost model on mlserver-1.x as the FVT pairs them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from emulator.launchers.ovms_standin.tfs_protos import DT, PredictRequest, PredictResponse
from emulator.settings import Settings
from emulator.testing import EmulatorThread, InferError
from tests.api_support import kubeconfig_for
from tests.e2e.test_upstream_mlserver_formats import MUSHROOM
from tests.launchers.test_triton_standins import PREDICTORS, TESTDATA, mnist_image, model_metadata
from tests.model_status import wait_until_settled

pytestmark = pytest.mark.integration

OVMS_PREDICTOR = "ovms-test-predictor"
NOT_OPENVINO = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: not-openvino
  annotations: {serving.kserve.io/deploymentMode: ModelMesh}
spec:
  predictor:
    model:
      modelFormat: {name: openvino_ir}
      storage: {key: localMinIO, path: fvt/xgboost/mushroom}
"""


@pytest.fixture(scope="module")
def ovms(make_settings: Callable[..., Settings], upstream_s3_root: Path) -> Iterator[EmulatorThread]:
    pytest.importorskip("openvino")
    with EmulatorThread(make_settings(local_s3_root=upstream_s3_root)) as emu:
        emu.apply(TESTDATA / "config" / "runtimes" / "ovms-1.x.yaml",
                  TESTDATA / "config" / "runtimes" / "mlserver-1.x.yaml",
                  PREDICTORS / "openvino-mnist-predictor.yaml", PREDICTORS / "xgboost-predictor.yaml")
        emu.apply_text(NOT_OPENVINO)
        yield emu


def tfs_predict(emu: EmulatorThread, request: PredictRequest) -> PredictResponse:
    with grpc.insecure_channel(emu.grpc_address) as channel:
        return channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                   request_serializer=PredictRequest.SerializeToString,
                                   response_deserializer=PredictResponse.FromString)(request, timeout=120)


def test_openvino_mnist_reads_the_first_test_digit_as_7_over_kserve_v2(ovms: EmulatorThread) -> None:
    reply = ovms.client.infer(OVMS_PREDICTOR, {"Input3": mnist_image(0)})
    metadata = model_metadata(ovms, OVMS_PREDICTOR)

    assert reply.model_name.startswith(f"{OVMS_PREDICTOR}__")
    assert int(np.argmax(reply["Plus214_Output_0"])) == 7
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("Input3", "FP32", [1, 1, 28, 28])]


def test_openvino_mnist_reads_the_first_test_digit_as_7_over_tensorflow_serving_predict(ovms: EmulatorThread) -> None:
    request = PredictRequest()
    request.model_spec.name = OVMS_PREDICTOR
    tensor = request.inputs["Input3"]
    tensor.dtype = DT["DT_FLOAT"]
    for size in (1, 1, 28, 28):
        tensor.tensor_shape.dim.add(size=size)
    tensor.tensor_content = mnist_image(0).tobytes()

    reply = tfs_predict(ovms, request)

    assert reply.model_spec.name.startswith(f"{OVMS_PREDICTOR}__")
    output = reply.outputs["Plus214_Output_0"]
    assert [dim.size for dim in output.tensor_shape.dim] == [1, 10]
    assert int(np.argmax(np.frombuffer(output.tensor_content, dtype=np.float32))) == 7


def test_a_wrong_number_of_dimensions_is_refused_with_ovms_message(ovms: EmulatorThread) -> None:
    request = PredictRequest()
    request.model_spec.name = OVMS_PREDICTOR
    request.inputs["Input3"].dtype = DT["DT_FLOAT"]
    request.inputs["Input3"].tensor_shape.dim.add(size=28)
    request.inputs["Input3"].tensor_shape.dim.add(size=28)

    with pytest.raises(grpc.RpcError) as caught:
        tfs_predict(ovms, request)
    with pytest.raises(InferError) as over_v2:
        ovms.client.infer(OVMS_PREDICTOR, {"Input3": np.zeros((1, 1, 2999), dtype=np.float32)})

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "INVALID_ARGUMENT: Invalid number of shape dimensions" in caught.value.details()  # the FVT's check
    assert over_v2.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input name: Input3" in over_v2.value.details()


def test_openvino_and_xgboost_models_load_side_by_side_and_status_names_the_stand_in(
        ovms: EmulatorThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from emulator.cli import main

    monkeypatch.setenv("MMEMU_KUBECONFIG", str(kubeconfig_for(ovms.emulator, tmp_path / "kubeconfig")))

    ovms.client.infer(OVMS_PREDICTOR, {"Input3": mnist_image(0)})
    xgboost = ovms.client.infer("xgboost-mushroom", {"predict": MUSHROOM})
    states = [wait_until_settled(ovms, name)["modelStatus"]["states"]["activeModelState"]
              for name in ("xgboost-mushroom",)]
    logs = ovms.call(lambda: [h.instance.log_tail(100_000) for h in ovms.emulator.pool.handles()])

    assert main(["status", "--server", ovms.emulator.api_url]) == 0
    out = capsys.readouterr().out
    assert round(float(next(iter(xgboost.values())).flat[0]), 1) == 0
    assert states == ["Loaded"]
    assert "note: ovms-1.x instance" in out
    assert "stand-ins for OpenVINO Model Server" in out
    assert any("OpenVINO Model Server stand-in of modelmesh-emulator" in text for text in logs)


def test_files_openvino_cannot_read_fail_to_load_with_the_reason_the_adapter_reads_from_ovms(
        ovms: EmulatorThread) -> None:
    status = wait_until_settled(ovms, "not-openvino")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert status["lastFailureInfo"]["message"].startswith(
        "Failed to load model due to error: LoadModel errored: OVMS model load failed. code: 'UNKNOWN' reason: ")
    assert "no model file" in status["lastFailureInfo"]["message"]
    reply = ovms.client.infer(OVMS_PREDICTOR, {"Input3": mnist_image(0)})  # the server stays up, nothing lost
    assert int(np.argmax(reply["Plus214_Output_0"])) == 7
