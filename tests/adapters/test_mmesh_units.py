"""Fast checks of the SPI adapter's and the ModelMesh API's pure logic (the real runtime is exercised by
test_mmesh_runtime.py and test_modelmesh_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from emulator._generated.mmesh import model_runtime_pb2 as spi
from emulator.adapters.base import LoadRequest
from emulator.adapters.mmesh import model_key
from emulator.adapters.mmesh_status import runtime_parameters
from emulator.api_models import ApiModelInfo, api_registered_model
from emulator.errors import RuntimeStartError
from emulator.launchers.docker_config import container_env
from emulator.launchers.downward_api import resource_field_value
from emulator.launchers.process_recipes import remap_port_word
from emulator.spec import EnvVar, load_text
from emulator.spec.predictor import ModelType, StorageLocation
from emulator.storage import PulledModel

MIB = 1024 * 1024


def ready(**fields: object) -> spi.RuntimeStatusResponse:
    values: dict[str, object] = {"status": spi.RuntimeStatusResponse.READY, "capacityInBytes": 256 * MIB,
                                 "maxLoadingConcurrency": 2, "modelLoadingTimeoutMs": 30000,
                                 "defaultModelSizeInBytes": MIB}
    values.update(fields)
    return spi.RuntimeStatusResponse(**values)


def test_ready_answer_becomes_the_instance_parameters() -> None:
    infos = {"inference.GRPCInferenceService/ModelInfer": spi.RuntimeStatusResponse.MethodInfo(idInjectionPath=[1]),
             "svc/Other": spi.RuntimeStatusResponse.MethodInfo()}
    status = runtime_parameters(ready(methodInfos=infos, runtimeVersion="v9"), "rt")

    assert (status.capacity_bytes, status.max_loading_concurrency, status.model_loading_timeout_ms) == (
        256 * MIB, 2, 30000)
    assert status.method_infos == {"inference.GRPCInferenceService/ModelInfer": (1,), "svc/Other": ()}
    assert status.allow_any_method is False, "a non-empty methodInfos is an allow-list"
    assert runtime_parameters(ready(), "rt").allow_any_method is True, "empty methodInfos: every method"
    assert runtime_parameters(ready(methodInfos=infos, allowAnyMethod=True), "rt").allow_any_method is True


@pytest.mark.parametrize(("fields", "problem"), [
    ({"maxLoadingConcurrency": 0}, "maxLoadingConcurrency 0 is less than 1"),
    ({"modelLoadingTimeoutMs": 99}, "modelLoadingTimeoutMs 99 is less than 100"),
    ({"defaultModelSizeInBytes": 100}, "defaultModelSizeInBytes 100 is less than one 8192-byte unit"),
    ({"capacityInBytes": 9 * MIB}, f"capacityInBytes {9 * MIB} is less than"),
])
def test_ready_answer_with_values_modelmesh_refuses(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(RuntimeStartError, match="runtime 'rt': runtimeStatus answered READY with invalid") as caught:
        runtime_parameters(ready(**fields), "rt")
    assert problem in caught.value.message


def _request(location: StorageLocation, key: str | None = None) -> LoadRequest:
    async def never() -> None:
        raise AssertionError

    return LoadRequest("m__isvc-1", "mt:fmt:1", location, ModelType(name="fmt", version="1"), never, never, key)


def test_model_key_without_and_with_the_storage_helper(tmp_path: Path) -> None:
    location = StorageLocation(path="a/b.json", schema_path="s.json", storage_key="local",
                               storage_params={"bucket": "x"})
    instance = SimpleNamespace(models_dir=tmp_path, container_models_dir="/models")
    pulled = PulledModel(tmp_path / "m__isvc-1" / "b.json", 42, tmp_path / "m__isvc-1" / "s.json")

    assert json.loads(model_key(_request(location), None, instance)) == {
        "model_type": {"name": "fmt", "version": "1"}, "storage_key": "local", "storage_params": {"bucket": "x"},
        "schema_path": "s.json"}
    assert json.loads(model_key(_request(location), pulled, instance)) == {
        "model_type": {"name": "fmt", "version": "1"}, "disk_size_bytes": 42, "schema_path": "/models/m__isvc-1/s.json"}
    assert model_key(_request(location, "opaque"), None, instance) == "opaque", "an API model's key, verbatim"


@pytest.mark.parametrize(("word", "expected"), [
    ("8085", "40000"), ("--port=8085", "--port=40000"), ("0.0.0.0:8085", "0.0.0.0:40000"),
    ("--port=80850", "--port=80850"), ("python", "python"), ("http://h:8085/x", "http://h:8085/x"),
])
def test_declared_ports_in_arguments_are_remapped(word: str, expected: str) -> None:
    assert remap_port_word(word, {8085: 40000}) == expected


def test_resource_field_ref_as_the_downward_api_gives_it() -> None:
    (runtime,) = load_text("""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {name: rt}
spec:
  supportedModelFormats: [{name: f}]
  containers:
    - name: server
      resources: {requests: {memory: 320Mi, cpu: 1500m}, limits: {memory: 1Gi}}
""")
    ref = {"resourceFieldRef": {"containerName": "server", "resource": "requests.memory"}}
    own = runtime.spec.containers[0]

    assert resource_field_value(runtime, ref, own) == str(320 * MIB)
    assert resource_field_value(runtime, {"resourceFieldRef": {"resource": "limits.memory"}}, own) == str(1024 * MIB)
    assert resource_field_value(runtime, {"resourceFieldRef": {"resource": "requests.cpu"}}, own) == "2"
    assert resource_field_value(runtime, {"resourceFieldRef": {"resource": "limits.cpu"}}, own) is None
    assert resource_field_value(runtime, {"fieldRef": {"fieldPath": "metadata.name"}}, own) is None
    runtime.spec.containers[0].env = [EnvVar(name="MODEL_SERVER_MEM_REQ_BYTES", value_from=ref)]
    assert container_env(runtime, runtime.spec.containers[0]) == {"MODEL_SERVER_MEM_REQ_BYTES": str(320 * MIB)}


@pytest.mark.parametrize(("type_string", "key", "labels", "format_"), [
    ("mt:sklearn", None, {"mt:sklearn"}, ("sklearn", None)),
    ("mt:onnx:1|pv:grpc-v2", None, {"mt:onnx:1", "pv:grpc-v2"}, ("onnx", "1")),
    ("rt:mlserver-1.x", '{"model_type": {"name": "xgboost"}}', {"rt:mlserver-1.x"}, ("xgboost", None)),
    ("custom", "not json", {"custom"}, ("custom", None)),
])
def test_api_model_info_becomes_a_registered_model(type_string: str, key: str | None, labels: set[str],
                                                   format_: tuple[str, str | None]) -> None:
    model = api_registered_model("My_Model", ApiModelInfo(type_string, "dir/file", key), "ns")

    assert model.concrete_id == "My_Model" and model.type_string == type_string
    assert model.required_labels == labels
    assert model.predictor is not None
    assert (model.predictor.model_type.name, model.predictor.model_type.version) == format_
    assert model.predictor.storage_location().path == "dir/file"


def test_api_model_key_names_the_storage() -> None:
    key = json.dumps({"storage_key": "localMinIO", "storage_params": {"bucket": "b"}, "schema_path": "s.json"})
    location = api_registered_model("m", ApiModelInfo("mt:sklearn", "x.joblib", key), "ns").predictor.storage_location()

    assert (location.storage_key, location.storage_params, location.schema_path) == ("localMinIO", {"bucket": "b"},
                                                                                     "s.json")


def test_grpc_go_code_names() -> None:
    from emulator.adapters.mmesh import _go_code

    assert [_go_code(c) for c in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.CANCELLED,
                                  grpc.StatusCode.NOT_FOUND)] == ["InvalidArgument", "Canceled", "NotFound"]
