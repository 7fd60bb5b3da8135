"""One error hierarchy; each error knows its gRPC status code and HTTP status.

Routers map an EmulatorError to the wire exactly once per transport, using these attributes.
"""

from __future__ import annotations

import grpc

__all__ = [
    "EmulatorError",
    "InvalidArgumentError",
    "LoadTimeoutError",
    "ModelLoadError",
    "ModelNotFoundError",
    "RuntimeStartError",
    "SpecError",
    "StorageError",
    "UnsupportedError",
]


class EmulatorError(Exception):
    """Root of every error the emulator raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgumentError(EmulatorError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class SpecError(InvalidArgumentError):
    """A manifest is malformed or invalid. The message names the file, document, field and cause."""

    def __init__(self, cause: str, *, source: str | None = None, document: int | None = None,
                 field: str | None = None, obj: str | None = None):
        self.cause, self.source, self.document, self.field, self.obj = cause, source, document, field, obj
        where = []
        if source is not None:
            where.append(source)
        if document is not None:
            where.append(f"document {document}")
        prefix = ", ".join(where)
        parts = [p for p in (prefix, obj, f"field {field}" if field else None) if p]
        super().__init__(f"{': '.join(parts)}: {cause}" if parts else cause)


class ModelNotFoundError(EmulatorError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class UnsupportedError(EmulatorError):
    """Recognised upstream, but not something the emulator can do."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501


class ModelLoadError(EmulatorError):
    """A model could not be loaded; carries ModelMesh's failure reason (ModelLoadFailed, ...)."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500

    def __init__(self, message: str, *, reason: str = "ModelLoadFailed"):
        super().__init__(message)
        self.reason = reason


class StorageError(ModelLoadError):
    """Pulling model files failed (reason ModelLoadFailed). Never carries credentials."""


class LoadTimeoutError(ModelLoadError):
    pass


class RuntimeStartError(EmulatorError):
    """A runtime instance failed to start or become ready; carries its log tail."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
