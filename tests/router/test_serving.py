"""End to end on the embedded default: YAML in, real MLServer processes, answers over gRPC 8033 and REST 8008."""

from __future__ import annotations

import grpc
import httpx
import pytest
from mlserver.grpc import dataplane_pb2, dataplane_pb2_grpc

from emulator.testing import EmulatorThread
from tests.v2_client import expected_outputs, grpc_request, rest_request

pytestmark = pytest.mark.integration

SKLEARN = "example-sklearn-mnist-svm"
CUSTOM = "example-custom-mnist"
CUSTOM_EXPLICIT = "example-custom-mnist-runtime"
Stub = dataplane_pb2_grpc.GRPCInferenceServiceStub


def _outputs_by_name(response: dataplane_pb2.ModelInferResponse) -> dict[str, list[float]]:
    found = {}
    for output in response.outputs:
        contents = output.contents
        found[output.name] = list(contents.int64_contents or contents.fp64_contents or contents.fp32_contents)
    return found


@pytest.mark.parametrize("isvc", [SKLEARN, CUSTOM, CUSTOM_EXPLICIT])
def test_grpc_infer_by_model_name_answers_with_concrete_id(emulator_grpc: Stub, isvc: str) -> None:
    response = emulator_grpc.ModelInfer(grpc_request(isvc), timeout=120)

    assert response.model_name.startswith(f"{isvc}__isvc-")
    assert len(response.model_name) == len(isvc) + len("__isvc-") + 10
    outputs = _outputs_by_name(response)
    for expected in expected_outputs(isvc):
        assert outputs[expected["name"]] == pytest.approx(expected["data"])


def test_grpc_infer_by_vmodel_header_as_in_modelmesh_docs(emulator_grpc: Stub) -> None:
    request = grpc_request(SKLEARN)
    request.model_name = ""

    response = emulator_grpc.ModelInfer(request, metadata=(("mm-vmodel-id", SKLEARN),), timeout=120)

    assert _outputs_by_name(response)["predict"] == expected_outputs(SKLEARN)[0]["data"]


@pytest.mark.parametrize("isvc", [SKLEARN, CUSTOM])
def test_rest_infer_returns_rest_proxy_json(emulator_rest: httpx.Client, isvc: str) -> None:
    reply = emulator_rest.post(f"/v2/models/{isvc}/infer", json=rest_request(isvc))

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["model_name"].startswith(f"{isvc}__isvc-")
    by_name = {output["name"]: output for output in body["outputs"]}
    for expected in expected_outputs(isvc):
        got = by_name[expected["name"]]
        assert (got["datatype"], got["shape"]) == (expected["datatype"], expected["shape"])
        assert got["data"] == pytest.approx(expected["data"])


def test_custom_runtime_is_the_users_code(emulator_grpc: Stub) -> None:
    sklearn_outputs = {o.name for o in emulator_grpc.ModelInfer(grpc_request(SKLEARN), timeout=120).outputs}
    custom_outputs = {o.name for o in emulator_grpc.ModelInfer(grpc_request(CUSTOM), timeout=120).outputs}

    assert custom_outputs - sklearn_outputs, "the custom runtime should add outputs of its own"


def test_rest_model_metadata_names_the_concrete_model(emulator_rest: httpx.Client) -> None:
    reply = emulator_rest.get(f"/v2/models/{SKLEARN}")

    assert reply.status_code == 200, reply.text
    assert reply.json()["name"].startswith(f"{SKLEARN}__isvc-")


def test_unknown_model_is_not_found_on_both_transports(emulator_grpc: Stub, emulator_rest: httpx.Client) -> None:
    request = grpc_request(SKLEARN)
    request.model_name = "no-such-model"

    with pytest.raises(grpc.RpcError) as caught:
        emulator_grpc.ModelInfer(request, timeout=120)
    reply = emulator_rest.post("/v2/models/no-such-model/infer", json=rest_request(SKLEARN))

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-model" in caught.value.details()
    assert reply.status_code == 404
    assert reply.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]


def test_empty_model_id_is_invalid_argument(emulator_grpc: Stub) -> None:
    request = grpc_request(SKLEARN)
    request.model_name = ""

    with pytest.raises(grpc.RpcError) as caught:
        emulator_grpc.ModelInfer(request, timeout=120)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "must include mm-model-id header"


def test_payload_the_model_rejects_passes_the_runtime_error_through(emulator_grpc: Stub,
                                                                    emulator_rest: httpx.Client) -> None:
    request = grpc_request(SKLEARN)
    del request.inputs[0].contents.fp32_contents[10:]
    request.inputs[0].shape[:] = [1, 10]

    with pytest.raises(grpc.RpcError) as caught:
        emulator_grpc.ModelInfer(request, timeout=120)
    body = rest_request(SKLEARN)
    body["inputs"][0]["data"] = body["inputs"][0]["data"][:10]
    body["inputs"][0]["shape"] = [1, 10]
    reply = emulator_rest.post(f"/v2/models/{SKLEARN}/infer", json=body, timeout=60)

    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details().startswith("inference.GRPCInferenceService/ModelInfer: INTERNAL: ")
    assert "features" in caught.value.details()
    assert reply.status_code == 500
    assert "features" in reply.json()["message"]
    # the model is still loaded and serving
    assert _outputs_by_name(emulator_grpc.ModelInfer(grpc_request(SKLEARN), timeout=120))["predict"] == \
        expected_outputs(SKLEARN)[0]["data"]


def test_rest_paths_the_rest_proxy_does_not_route_are_404(emulator_rest: httpx.Client) -> None:
    reply = emulator_rest.get("/v2/health/ready")

    assert reply.status_code == 404
    assert reply.json() == {"code": 5, "message": "Not Found"}


def test_grpc_reflection_lists_the_inference_service(emulator: EmulatorThread) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(emulator.grpc_address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {service.name for reply in replies for service in reply.list_services_response.service}

    assert "inference.GRPCInferenceService" in names


def test_streaming_is_unimplemented(emulator_grpc: Stub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        list(emulator_grpc.ModelStreamInfer(iter([grpc_request(SKLEARN)]), timeout=10))

    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.details() == "Streaming not supported yet"
