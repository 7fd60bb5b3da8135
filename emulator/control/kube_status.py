"""Kubernetes `Status` bodies for the management API's errors, and the errors only this API raises."""

from __future__ import annotations

from typing import Any

import grpc

from ..errors import EmulatorError, ModelNotFoundError, SpecError

__all__ = ["AlreadyExistsError", "ConflictError", "NotFoundError", "failure", "failure_for", "success"]

_REASON_BY_CODE = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists",
                   415: "UnsupportedMediaType", 422: "Invalid", 501: "NotImplemented", 503: "ServiceUnavailable"}


class AlreadyExistsError(EmulatorError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409


class ConflictError(EmulatorError):
    """A write with a stale resourceVersion, or a server-side apply conflict (409 Conflict)."""

    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409
    reason = "Conflict"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details


class NotFoundError(ModelNotFoundError):
    """An object, runtime or route the API does not have."""


def failure(code: int, message: str, details: dict[str, Any] | None = None, reason: str | None = None
            ) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason or _REASON_BY_CODE.get(code, "InternalError"),
                            "code": code}
    if details:
        body["details"] = details
    return body


def failure_for(exc: EmulatorError, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Status for an emulator error: a bad manifest is 422 Invalid, like a rejected object in Kubernetes."""
    if isinstance(exc, ConflictError):
        return failure(409, exc.message, exc.details or details, reason=ConflictError.reason)
    return failure(422 if isinstance(exc, SpecError) else exc.http_status, exc.message, details)


def success(details: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
