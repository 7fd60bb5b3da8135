"""The sample models, their requests and manifests, and the custom runtime's model class, all in-process."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import yaml
from google.protobuf import json_format
from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.grpc import dataplane_pb2
from mlserver.settings import ModelSettings
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver_sklearn import SKLearnModel

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
REQUESTS = SAMPLES / "requests"
RUNTIMES = ROOT / "runtimes"
CUSTOM_RUNTIME = RUNTIMES / "custom-mnist"
BUCKET = "modelmesh-example-models"


def _documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def _manifests(folder: Path, pattern: str) -> dict[str, dict[str, Any]]:
    """Every Kubernetes object under folder, by metadata.name."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob(pattern)):
        for doc in _documents(path):
            objects[doc["metadata"]["name"]] = doc
    return objects


ISVCS = _manifests(SAMPLES, "*.yaml")
RUNTIME_OBJECTS = {name: doc for name, doc in _manifests(RUNTIMES, "**/*.yaml").items()
                   if doc["kind"] in ("ServingRuntime", "ClusterServingRuntime")}


def _load_json(name: str) -> dict[str, Any]:
    return json.loads((REQUESTS / name).read_text())


def _outputs(response: InferenceResponse) -> list[dict[str, Any]]:
    dumped = response.model_dump(mode="json", exclude_none=True)["outputs"]
    return [{key: o[key] for key in ("name", "datatype", "shape", "data")} for o in dumped]


def _assert_outputs_equal(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [o["name"] for o in actual] == [o["name"] for o in expected]
    for got, want in zip(actual, expected, strict=True):
        assert (got["datatype"], got["shape"]) == (want["datatype"], want["shape"]), got["name"]
        assert got["data"] == pytest.approx(want["data"]), got["name"]


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage root freshly filled by train.py, with the requests it generates in <root>/requests."""
    root = tmp_path_factory.mktemp("storage")
    subprocess.run(
        [sys.executable, str(SAMPLES / "train.py"), "--out", str(root), "--requests", str(root / "requests")],
        check=True,
        timeout=120,
    )
    return root


def _model_path(storage: Path, isvc: str) -> Path:
    return storage / BUCKET / ISVCS[isvc]["spec"]["predictor"]["model"]["storage"]["path"]


@pytest.fixture(scope="module")
def custom_model_class() -> type[MLModel]:
    sys.path.insert(0, str(CUSTOM_RUNTIME))
    try:
        module = importlib.import_module("custom_model")
    finally:
        sys.path.remove(str(CUSTOM_RUNTIME))
    return module.CustomMNISTModel


def test_isvcs_are_the_expected_ones() -> None:
    assert set(ISVCS) == {"example-sklearn-mnist-svm", "example-custom-mnist", "example-custom-mnist-runtime"}


@pytest.mark.parametrize("isvc", sorted(ISVCS))
def test_isvc_manifest(isvc: str, storage: Path) -> None:
    doc = ISVCS[isvc]
    assert (doc["apiVersion"], doc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert doc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "ModelMesh"
    assert "namespace" not in doc["metadata"]
    model = doc["spec"]["predictor"]["model"]
    assert model["storage"]["key"] == "localMinIO"
    assert _model_path(storage, isvc).is_file()


@pytest.mark.parametrize("isvc", sorted(ISVCS))
def test_isvc_has_a_runtime(isvc: str) -> None:
    model = ISVCS[isvc]["spec"]["predictor"]["model"]
    fmt = model["modelFormat"]["name"]
    if "runtime" in model:
        runtimes = [RUNTIME_OBJECTS[model["runtime"]]]
    else:
        runtimes = [
            sr
            for sr in RUNTIME_OBJECTS.values()
            if any(f["name"] == fmt and f.get("autoSelect") for f in sr["spec"]["supportedModelFormats"])
        ]
    names = [r["metadata"]["name"] for r in runtimes]
    assert len(runtimes) == 1, f"{isvc}: runtimes for format {fmt}: {names}"
    assert fmt in {f["name"] for f in runtimes[0]["spec"]["supportedModelFormats"]}


def test_runtime_manifests() -> None:
    assert {"mlserver-1.x", "custom-mnist-0.x"} <= set(RUNTIME_OBJECTS)
    builtin, custom = RUNTIME_OBJECTS["mlserver-1.x"], RUNTIME_OBJECTS["custom-mnist-0.x"]
    assert builtin["kind"] == "ClusterServingRuntime"
    assert custom["kind"] == "ServingRuntime"
    assert custom["metadata"]["annotations"]["modelmesh-emulator/source"] == "."
    assert builtin["spec"]["containers"][0]["image"] == "seldonio/mlserver:1.3.2"
    for sr in (builtin, custom):
        assert sr["apiVersion"] == "serving.kserve.io/v1alpha1"
        assert sr["spec"]["multiModel"] is True
        assert sr["spec"]["grpcEndpoint"] == "port:8085"
        assert sr["spec"]["grpcDataEndpoint"] == "port:8001"
        assert sr["spec"]["containers"][0]["name"] == "mlserver"
        assert sr["spec"]["builtInAdapter"] == {
            "serverType": "mlserver",
            "runtimeManagementPort": 8001,
            "memBufferBytes": 134217728,
            "modelLoadingTimeoutMillis": 90000,
        }


def test_train_writes_the_committed_requests(storage: Path) -> None:
    generated = {p.name: json.loads(p.read_text()) for p in (storage / "requests").iterdir()}
    committed = {p.name: json.loads(p.read_text()) for p in REQUESTS.iterdir()}
    assert set(generated) == set(committed)
    for name, content in committed.items():
        if name.endswith(".expected.json"):
            _assert_outputs_equal(generated[name]["outputs"], content["outputs"])
        else:
            assert generated[name] == content, name


def test_train_is_idempotent(storage: Path) -> None:
    train = [sys.executable, str(SAMPLES / "train.py"), "--out", str(storage)]
    models = sorted((storage / BUCKET).rglob("*.joblib"))
    mtimes = [p.stat().st_mtime_ns for p in models]

    again = subprocess.run(train, check=True, capture_output=True, text=True, timeout=120)
    assert "wrote" not in again.stdout
    assert [p.stat().st_mtime_ns for p in models] == mtimes

    forced = subprocess.run([*train, "--force"], check=True, capture_output=True, text=True, timeout=120)
    assert forced.stdout.count("wrote") == len(models)


@pytest.mark.parametrize("isvc", sorted(ISVCS))
def test_request_files_agree(isvc: str) -> None:
    rest = _load_json(f"{isvc}.json")
    grpc_json = (REQUESTS / f"{isvc}.grpc.json").read_text()
    grpc_request = json_format.Parse(grpc_json, dataplane_pb2.ModelInferRequest())
    assert grpc_request.model_name == isvc
    [rest_input] = rest["inputs"]
    [grpc_input] = grpc_request.inputs
    assert (rest_input["name"], rest_input["datatype"]) == (grpc_input.name, grpc_input.datatype)
    assert (grpc_input.name, grpc_input.datatype) == ("predict", "FP32")
    assert list(grpc_input.shape) == rest_input["shape"] == [1, 64]
    assert list(grpc_input.contents.fp32_contents) == rest_input["data"]


@pytest.mark.parametrize("isvc", sorted(ISVCS))
def test_expected_outputs_match_the_trained_model(isvc: str, storage: Path) -> None:
    model = joblib.load(_model_path(storage, isvc))
    [request_input] = _load_json(f"{isvc}.json")["inputs"]
    x = np.array(request_input["data"], dtype=np.float32).reshape(request_input["shape"])
    expected = {o["name"]: o["data"] for o in _load_json(f"{isvc}.expected.json")["outputs"]}

    assert expected["predict"] == model.predict(x).tolist() == [8]
    if "confidence" in expected:
        assert expected["confidence"] == pytest.approx(model.predict_proba(x).max(axis=1).tolist())
        assert expected["confidence"][0] > 0.9


async def _serve_in_process(model: MLModel, isvc: str) -> list[dict[str, Any]]:
    assert await model.load()
    response = await model.predict(InferenceRequest.model_validate(_load_json(f"{isvc}.json")))
    return _outputs(response)


async def test_builtin_sklearn_runtime_returns_expected(storage: Path) -> None:
    isvc = "example-sklearn-mnist-svm"
    settings = ModelSettings(
        name=isvc, implementation=SKLearnModel, parameters={"uri": str(_model_path(storage, isvc))}
    )
    actual = await _serve_in_process(SKLearnModel(settings), isvc)
    _assert_outputs_equal(actual, _load_json(f"{isvc}.expected.json")["outputs"])


@pytest.mark.parametrize("isvc", ["example-custom-mnist", "example-custom-mnist-runtime"])
async def test_custom_runtime_returns_expected(
    isvc: str, storage: Path, custom_model_class: type[MLModel]
) -> None:
    settings = ModelSettings(
        name=isvc, implementation=custom_model_class, parameters={"uri": str(_model_path(storage, isvc))}
    )
    model = custom_model_class(settings)
    actual = await _serve_in_process(model, isvc)
    assert model.ready
    _assert_outputs_equal(actual, _load_json(f"{isvc}.expected.json")["outputs"])
    assert [o["name"] for o in actual] == ["predict", "confidence"]


async def test_custom_runtime_finds_a_wellknown_file_in_a_directory(
    storage: Path, tmp_path: Path, custom_model_class: type[MLModel]
) -> None:
    (tmp_path / "model.joblib").symlink_to(_model_path(storage, "example-custom-mnist"))
    settings = ModelSettings(
        name="dir-model", implementation=custom_model_class, parameters={"uri": str(tmp_path)}
    )
    actual = await _serve_in_process(custom_model_class(settings), "example-custom-mnist")
    _assert_outputs_equal(actual, _load_json("example-custom-mnist.expected.json")["outputs"])


async def test_custom_runtime_rejects_a_model_without_probabilities(
    storage: Path, custom_model_class: type[MLModel]
) -> None:
    svm = _model_path(storage, "example-sklearn-mnist-svm")
    settings = ModelSettings(name="svm", implementation=custom_model_class, parameters={"uri": str(svm)})
    with pytest.raises(MLServerError, match="predict_proba"):
        await custom_model_class(settings).load()


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (CUSTOM_RUNTIME / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line.split()[1:])
    return env


def test_dockerfile_points_mlserver_at_the_model_class(custom_model_class: type[MLModel]) -> None:
    env = _dockerfile_env()
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == f"custom_model.{custom_model_class.__name__}"
    assert env["PYTHONPATH"] == "/opt/"
    assert (env["MLSERVER_GRPC_PORT"], env["MLSERVER_LOAD_MODELS_AT_STARTUP"]) == ("8001", "false")


def test_image_pins_the_versions_the_sample_models_need() -> None:
    text = (CUSTOM_RUNTIME / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", text, flags=re.MULTILINE))
    for package in ("mlserver", "scikit-learn"):
        assert pins[package] == version(package), f"runtimes/custom-mnist/requirements.txt: update {package}"
