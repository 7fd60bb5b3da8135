"""gRPC status → HTTP status and error body, as ModelMesh's rest-proxy (grpc-gateway v2) writes them.

The mapping is grpc-gateway v2's runtime.HTTPStatusFromCode (CANCELLED → 499 since v2.13; rest-proxy
uses v2.15). The body is google.rpc.Status marshalled by rest-proxy's JSONPb with
EmitUnpopulated=false, so empty fields are left out: `{"code":5,"message":"Not Found"}`.
"""

from __future__ import annotations

import json

import grpc

__all__ = ["GRPC_TO_HTTP", "error_body", "error_json", "http_status"]

GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status for `code`; 500 for anything unmapped, as grpc-gateway does."""
    return GRPC_TO_HTTP.get(code, 500)


def error_body(code: grpc.StatusCode, message: str) -> dict[str, int | str]:
    """The JSON error object: `{"code": <int>, "message": ...}`, zero code / empty message omitted."""
    body: dict[str, int | str] = {}
    number = code.value[0]
    if number:
        body["code"] = number
    if message:
        body["message"] = message
    return body


def error_json(code: grpc.StatusCode, message: str) -> bytes:
    """`error_body` serialised as rest-proxy writes it (compact)."""
    return json.dumps(error_body(code, message), separators=(",", ":")).encode()
