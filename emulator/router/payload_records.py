"""What ModelMesh's payload processors receive: one record per request and one per response of each external
inference call (ModelMeshApi.processPayload), the JSON body its `http` processor POSTs (RemotePayloadProcessor:
`id`, `modelid`, `vModelId`, `data` as base64 of the raw protobuf, `kind`, `status`, `metadata`), the line its
`logger` processor writes (Payload.toString), and the emulator's addition: the tensors decoded to V2 JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ..v2_protos import dataplane_pb2 as pb
from .rest.response import infer_response_to_json

__all__ = ["PayloadRecord", "decoded_json", "http_body", "logger_line"]

_INFER = "inference.GRPCInferenceService/ModelInfer"
_METADATA = "inference.GRPCInferenceService/ModelMetadata"


@dataclass(frozen=True)
class PayloadRecord:
    id: str
    """`<thread id>-<counter>`, the same for a call's request and response records."""
    model_id: str | None
    """The concrete model id the call resolved to (None when it failed before)."""
    method: str
    """Full gRPC method, e.g. `inference.GRPCInferenceService/ModelInfer`."""
    metadata: Sequence[tuple[str, str | bytes]]
    """Request headers (request record) or the runtime's response headers (response record)."""
    data: bytes | None
    """The raw protobuf message; None for a response that failed."""
    status: str | None
    """None for the request record; the gRPC code name (`OK`, `NOT_FOUND`, …) for the response record."""

    @property
    def kind(self) -> str:
        return "request" if self.status is None else "response"


def _metadata_map(metadata: Sequence[tuple[str, str | bytes]]) -> dict[str, str]:
    """String map as upstream's: `-bin` values base64, one value per key (the last, as a HashMap's put)."""
    values: dict[str, str] = {}
    for key, value in metadata:
        if key.endswith("-bin"):
            raw = value if isinstance(value, bytes) else value.encode()
            values[key] = base64.b64encode(raw).decode("ascii")
        else:
            values[key] = value.decode("latin-1") if isinstance(value, bytes) else value
    return values


def http_body(record: PayloadRecord, *, decode: bool) -> bytes:
    body: dict[str, Any] = {
        "id": record.id, "modelid": record.model_id, "vModelId": None,  # upstream never passes the vmodel id
        "data": base64.b64encode(record.data).decode("ascii") if record.data else "",
        "kind": record.kind, "status": record.status or "", "metadata": _metadata_map(record.metadata),
    }
    if decode:
        body["decodedJson"] = decoded_json(record)
    return orjson.dumps(body)


def logger_line(record: PayloadRecord, *, decode: bool) -> str:
    status = "request" if record.status is None else f"Status{{code={record.status}, description=null, cause=null}}"
    model = "null" if record.model_id is None else f"'{record.model_id}'"
    line = f"Payload: Payload{{id='{record.id}', vModelId=null, modelId={model}, method='{record.method}', " \
           f"status={status}}}"
    if decode:
        line += " decodedJson=" + orjson.dumps(decoded_json(record)).decode()
    return line


def _request_as_response(request: pb.ModelInferRequest) -> pb.ModelInferResponse:
    """The request's inputs as a response's outputs: the tensor messages share their field numbers, so the REST
    side's response encoder decodes `raw_input_contents` as it decodes `raw_output_contents`."""
    response = pb.ModelInferResponse(model_name=request.model_name, model_version=request.model_version,
                                     id=request.id)
    for key, value in request.parameters.items():
        response.parameters[key].CopyFrom(value)
    for tensor in request.inputs:
        response.outputs.add().ParseFromString(tensor.SerializeToString())
    response.raw_output_contents.extend(request.raw_input_contents)
    return response


def decoded_json(record: PayloadRecord) -> Any:
    """The emulator's addition: a KServe V2 message as JSON (tensors as the REST API shows them); None for other
    methods, failed responses, or bytes that do not decode."""
    if record.data is None or record.method not in (_INFER, _METADATA):
        return None
    try:
        if record.method == _METADATA:
            message_type = pb.ModelMetadataRequest if record.status is None else pb.ModelMetadataResponse
            return json_format.MessageToDict(message_type.FromString(record.data))
        if record.status is not None:
            return orjson.loads(infer_response_to_json(pb.ModelInferResponse.FromString(record.data)))
        request = pb.ModelInferRequest.FromString(record.data)
        decoded = orjson.loads(infer_response_to_json(_request_as_response(request)))
        decoded["inputs"] = decoded.pop("outputs", [])
        if request.outputs:
            decoded["outputs"] = [json_format.MessageToDict(output) for output in request.outputs]
        return decoded
    except (DecodeError, ValueError, KeyError, TypeError):
        return None
