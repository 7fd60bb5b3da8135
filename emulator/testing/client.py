"""A small KServe V2 client: NumPy in, NumPy out, by InferenceService name, over gRPC or REST.

Works against any ModelMesh endpoint (the emulator, or a real cluster's port-forwarded 8033/8008):

    with V2Client("localhost:8033", "http://localhost:8008") as client:
        result = client.infer("mnist-svm", {"predict": pixels.astype("float32")})
        result["predict"]          # numpy array, shape and dtype from the response
        result.model_name          # the concrete id, "mnist-svm__isvc-…"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import numpy as np
from mlserver.grpc import dataplane_pb2, dataplane_pb2_grpc

from .tensors import from_json_output, from_proto_outputs, proto_parameters, to_array, to_json_input, to_proto_inputs

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["InferError", "InferResult", "V2Client"]

Parameters = Mapping[str, bool | int | str]


class InferResult(dict[str, np.ndarray]):
    """Outputs by name, plus the response's `model_name` (the concrete id), `model_version`, `id`, `parameters`."""

    def __init__(self, outputs: Mapping[str, np.ndarray], *, model_name: str, model_version: str = "",
                 id: str = "", parameters: Mapping[str, Any] | None = None):
        super().__init__(outputs)
        self.model_name = model_name
        self.model_version = model_version
        self.id = id
        self.parameters = dict(parameters or {})


class InferError(grpc.RpcError):
    """A failed inference: `code()` and `details()` as a gRPC error, `http_status` when it came over REST."""

    def __init__(self, model: str, code: grpc.StatusCode, details: str, http_status: int | None = None):
        transport = f"REST {http_status}" if http_status is not None else "gRPC"
        super().__init__(f"infer {model!r} ({transport}): {code.name}: {details}")
        self.model, self._code, self._details, self.http_status = model, code, details, http_status

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def _status_code(number: int) -> grpc.StatusCode:
    return next((code for code in grpc.StatusCode if code.value[0] == number), grpc.StatusCode.UNKNOWN)


def _encode(inputs: Mapping[str, ArrayLike], datatypes: Mapping[str, str] | None) -> dict[str, tuple[np.ndarray, str]]:
    datatypes = datatypes or {}
    unknown = set(datatypes) - set(inputs)
    if unknown:
        raise ValueError(f"datatypes given for inputs that are not there: {', '.join(sorted(unknown))}")
    return {name: to_array(value, datatypes.get(name)) for name, value in inputs.items()}


class V2Client:
    """gRPC channel and REST client to one endpoint, opened on first use; close() or `with` releases them."""

    def __init__(self, grpc_address: str, rest_url: str | None = None, *, timeout: float = 120.0):
        self.grpc_address = grpc_address
        self.rest_url = rest_url
        self.timeout = timeout
        self._channel: grpc.Channel | None = None
        self._stub: dataplane_pb2_grpc.GRPCInferenceServiceStub | None = None
        self._http: httpx.Client | None = None

    @property
    def stub(self) -> dataplane_pb2_grpc.GRPCInferenceServiceStub:
        """MLServer's generated `inference.GRPCInferenceService` stub on this endpoint."""
        if self._stub is None:
            self._channel = grpc.insecure_channel(self.grpc_address, options=[
                ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
            self._stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(self._channel)
        return self._stub

    @property
    def http(self) -> httpx.Client:
        """An httpx client with `base_url` set to the REST endpoint."""
        if self.rest_url is None:
            raise ValueError("this client has no REST URL")
        if self._http is None:
            self._http = httpx.Client(base_url=self.rest_url, timeout=self.timeout)
        return self._http

    def infer(self, model: str, inputs: Mapping[str, ArrayLike], *, datatypes: Mapping[str, str] | None = None,
              outputs: Sequence[str] = (), parameters: Parameters | None = None, version: str = "",
              metadata: Sequence[tuple[str, str]] = (), timeout: float | None = None) -> InferResult:
        """ModelInfer over gRPC. `inputs`: name → array-like; datatype from the dtype unless `datatypes` names it.

        Raises InferError (a grpc.RpcError) with the server's code and message.
        """
        __tracebackhide__ = True
        request = dataplane_pb2.ModelInferRequest(model_name=model, model_version=version)
        to_proto_inputs(request, _encode(inputs, datatypes))
        for name in outputs:
            request.outputs.add(name=name)
        for key, value in (parameters or {}).items():
            _set_parameter(request.parameters[key], value)
        try:
            response = self.stub.ModelInfer(request, metadata=tuple(metadata), timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise InferError(model, code, details or "") from None
        return InferResult(from_proto_outputs(response), model_name=response.model_name,
                           model_version=response.model_version, id=response.id,
                           parameters=proto_parameters(response.parameters))

    def infer_rest(self, model: str, inputs: Mapping[str, ArrayLike], *,
                   datatypes: Mapping[str, str] | None = None, outputs: Sequence[str] = (),
                   parameters: Parameters | None = None, version: str = "",
                   timeout: float | None = None) -> InferResult:
        """The same as `infer`, over REST (`POST /v2/models/<model>/infer`)."""
        __tracebackhide__ = True
        body: dict[str, Any] = {
            "inputs": [to_json_input(name, array, datatype)
                       for name, (array, datatype) in _encode(inputs, datatypes).items()]}
        if outputs:
            body["outputs"] = [{"name": name} for name in outputs]
        if parameters:
            body["parameters"] = dict(parameters)
        path = f"/v2/models/{model}/versions/{version}/infer" if version else f"/v2/models/{model}/infer"
        reply = self.http.post(path, json=body, timeout=timeout or self.timeout)
        if reply.status_code != 200:
            try:
                error = reply.json()
                code, message = _status_code(int(error.get("code", 2))), str(error.get("message", reply.text))
            except ValueError:
                code, message = grpc.StatusCode.UNKNOWN, reply.text
            raise InferError(model, code, message, http_status=reply.status_code)
        answer = reply.json()
        return InferResult({output["name"]: from_json_output(output) for output in answer.get("outputs", [])},
                           model_name=answer.get("model_name", ""), model_version=answer.get("model_version") or "",
                           id=answer.get("id") or "", parameters=answer.get("parameters"))

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> V2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _set_parameter(parameter: dataplane_pb2.InferParameter, value: bool | int | str) -> None:
    if isinstance(value, bool):
        parameter.bool_param = value
    elif isinstance(value, int):
        parameter.int64_param = value
    else:
        parameter.string_param = str(value)
