"""Upstream's ONNX, TorchScript and FIL example models, manifests unchanged from ../shared, served by upstream's
triton-2.x ClusterServingRuntime through the real `tritonserver` (nvidia-pytriton, `make triton`), whose missing
onnxruntime / pytorch / fil backends are the emulator's stand-ins in Triton's Python backend. Checked as
modelmesh-serving's fvt/inference.go checks them; Triton itself answers shape errors and ModelMetadata."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from emulator.cli import main
from emulator.errors import RuntimeStartError
from emulator.kube.kubeconfig import read_kubeconfig
from emulator.launchers.triton_dist import find_triton
from emulator.settings import Settings
from emulator.testing import EmulatorThread, InferError
from emulator.v2_protos import GRPCInferenceServiceStub, dataplane_pb2
from tests.adapters.test_triton import triton_models
from tests.api_support import kubeconfig_for
from tests.conftest import UPSTREAM_EXAMPLES
from tests.e2e.test_upstream_mlserver_formats import MUSHROOM
from tests.model_status import wait_until_settled

pytestmark = pytest.mark.integration

TESTDATA = UPSTREAM_EXAMPLES / "testdata"
EXAMPLE_ISVCS = TESTDATA / "config" / "example-isvcs"
PREDICTORS = TESTDATA / "predictors"
NOT_ONNX = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: not-onnx
  annotations: {serving.kserve.io/deploymentMode: ModelMesh}
spec:
  predictor:
    model:
      modelFormat: {name: onnx}
      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}
"""


def mnist_image(index: int) -> np.ndarray:
    """fvt/inference.go's LoadMnistImage: t10k image `index`, pixels 0..255 as FP32, shaped as Input3."""
    with gzip.open(TESTDATA / "t10k-images-idx3-ubyte.gz") as images:
        data = images.read()
    pixels = np.frombuffer(data, dtype=np.uint8, count=28 * 28, offset=16 + index * 28 * 28)
    return pixels.astype(np.float32).reshape(1, 1, 28, 28)


def triton_env_with(*modules: str) -> None:
    try:
        dist = find_triton(None, runtime_name="triton-2.x")
    except RuntimeStartError as exc:
        pytest.skip(f"no runnable Triton: {exc}")
    for module in modules:
        site = next(dist.python.parent.parent.glob("lib/python3*/site-packages"))
        if not (site / module).is_dir():
            pytest.skip(f"{module} is not installed in Triton's environment ({site}); run `make triton`")


@pytest.fixture(scope="module")
def triton(make_settings: Callable[..., Settings], upstream_s3_root: Path) -> Iterator[EmulatorThread]:
    triton_env_with("onnxruntime", "torch", "xgboost", "lightgbm")
    with EmulatorThread(make_settings(local_s3_root=upstream_s3_root)) as emu:
        emu.apply(TESTDATA / "config" / "runtimes" / "triton-2.x.yaml",
                  EXAMPLE_ISVCS / "example-onnx-mnist-isvc.yaml", EXAMPLE_ISVCS / "example-pytorch-cifar-isvc.yaml",
                  EXAMPLE_ISVCS / "example-triton-xgboost-isvc.yaml",
                  PREDICTORS / "onnx-predictor.yaml", PREDICTORS / "pytorch-predictor.yaml",
                  PREDICTORS / "xgboost-fil-predictor.yaml", PREDICTORS / "lightgbm-fil-predictor.yaml")
        emu.apply_text(NOT_ONNX)
        yield emu


def model_metadata(emu: EmulatorThread, name: str) -> dataplane_pb2.ModelMetadataResponse:
    with grpc.insecure_channel(emu.grpc_address) as channel:
        return GRPCInferenceServiceStub(channel).ModelMetadata(dataplane_pb2.ModelMetadataRequest(name=name),
                                                               timeout=120)


@pytest.mark.parametrize("name", ["example-onnx-mnist", "onnx-test-predictor"])
def test_onnx_mnist_reads_the_first_test_digit_as_7(triton: EmulatorThread, name: str) -> None:
    grpc_reply = triton.client.infer(name, {"Input3": mnist_image(0)})
    rest_reply = triton.client.infer_rest(name, {"Input3": mnist_image(0)})

    assert grpc_reply.model_name.startswith(f"{name}__")
    scores = grpc_reply["Plus214_Output_0"]
    assert scores.shape == (1, 10)
    assert int(np.argmax(scores)) == 7
    np.testing.assert_allclose(rest_reply["Plus214_Output_0"], scores, rtol=1e-5)


def test_onnx_model_metadata_comes_from_the_model_as_tritons_auto_complete_gives_it(triton: EmulatorThread) -> None:
    metadata = model_metadata(triton, "example-onnx-mnist")

    assert metadata.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("Input3", "FP32", [1, 1, 28, 28])]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [("Plus214_Output_0", "FP32", [1, 10])]


def test_a_wrong_input_shape_is_refused_by_triton_with_its_own_message(triton: EmulatorThread) -> None:
    with pytest.raises(InferError) as caught:
        triton.client.infer("example-onnx-mnist", {"Input3": np.zeros((1, 1, 2999), dtype=np.float32)})

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unexpected shape for input 'Input3'" in caught.value.details()
    assert "[1,1,28,28]" in caught.value.details()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", ["example-pytorch-cifar", "pytorch-cifar"])
def test_pytorch_cifar_answers_what_torchscript_computes_for_the_same_image(triton: EmulatorThread,
                                                                           name: str) -> None:
    torch = pytest.importorskip("torch")
    # fvt/testdata/cifar_test_images.bin is not in ../shared: a fixed image, normalised to [-1, 1] as the FVT does.
    pixels = np.random.default_rng(1).integers(0, 256, size=(1, 3, 32, 32))
    image = (pixels / 127.5 - 1).astype(np.float32)
    model = torch.jit.load(str(UPSTREAM_EXAMPLES / "pytorch" / "cifar" / "1" / "model.pt"), map_location="cpu")
    with torch.inference_mode():
        expected = model(torch.from_numpy(image)).numpy()

    reply = triton.client.infer(name, {"INPUT__0": image})

    assert reply.model_name.startswith(f"{name}__")
    assert reply["OUTPUT__0"].shape == (1, 10)
    np.testing.assert_allclose(reply["OUTPUT__0"], expected, atol=1e-5)  # fvt/inference.go's EPSILON is 1e-6
    metadata = model_metadata(triton, name)
    assert metadata.platform == "pytorch_libtorch"
    # fvt/predictor_test.go: max_batch_size 1 in config.pbtxt makes Triton report a batch dimension
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("INPUT__0", "FP32", [-1, 3, 32, 32])]


@pytest.mark.parametrize("name", ["example-xgboost-mushroom-fil", "xgboost-fil-mushroom", "lightgbm-fil-predictor"])
def test_fil_mushroom_models_predict_not_poisonous(triton: EmulatorThread, name: str) -> None:
    two_rows = np.concatenate([MUSHROOM, MUSHROOM])

    reply = triton.client.infer(name, {"input__0": two_rows})

    assert reply.model_name.startswith(f"{name}__")
    assert reply["output__0"].shape == (2, 1)
    assert [round(float(value), 1) for value in reply["output__0"].flat] == [0, 0]


def test_models_of_three_formats_are_loaded_side_by_side_in_one_triton(triton: EmulatorThread) -> None:
    concrete = {name: triton.client.infer(name, inputs).model_name for name, inputs in [
        ("example-onnx-mnist", {"Input3": mnist_image(0)}),
        ("example-pytorch-cifar", {"INPUT__0": np.zeros((1, 3, 32, 32), dtype=np.float32)}),
        ("example-xgboost-mushroom-fil", {"input__0": MUSHROOM})]}
    status = wait_until_settled(triton, "example-onnx-mnist")

    in_triton = triton_models(triton)
    assert all(in_triton[model_id] == "READY" for model_id in concrete.values())
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}


def test_status_and_the_runtime_log_say_which_backends_are_stand_ins(
        triton: EmulatorThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    kubeconfig = kubeconfig_for(triton.emulator, tmp_path / "kubeconfig")
    monkeypatch.setenv("MMEMU_KUBECONFIG", str(kubeconfig))
    onnx_model = triton.client.infer("example-onnx-mnist", {"Input3": mnist_image(0)}).model_name
    runtimes = httpx.get(f"{triton.emulator.api_url}/emulator/v1/runtimes", timeout=30,
                         headers={"Authorization": f"Bearer {triton.emulator.api_token}"},
                         verify=read_kubeconfig(kubeconfig).ssl_context()).json()["items"]
    logs = triton.call(lambda: [h.instance.log_tail(100_000) for h in triton.emulator.pool.handles()])

    assert main(["status", "--server", triton.emulator.api_url]) == 0
    out = capsys.readouterr().out
    (instance,) = next(runtime for runtime in runtimes if runtime["name"] == "triton-2.x")["instances"]
    assert instance["standIns"][onnx_model] == "Triton's onnxruntime backend"
    assert "serves models on the emulator's stand-ins for " in out
    assert "Triton's onnxruntime backend" in out.split("note: triton-2.x", 1)[1]
    assert any(f"{onnx_model}: backend 'onnxruntime' is the modelmesh-emulator's stand-in" in text for text in logs)


def test_a_file_onnxruntime_cannot_read_fails_to_load_with_its_message_and_triton_keeps_serving(
        triton: EmulatorThread) -> None:
    status = wait_until_settled(triton, "not-onnx")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    message = status["lastFailureInfo"]["message"]
    assert message.startswith("Failed to load Model due to Triton runtime error:")
    assert "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF" in message
    reply = triton.client.infer("example-onnx-mnist", {"Input3": mnist_image(0)})
    assert int(np.argmax(reply["Plus214_Output_0"])) == 7
