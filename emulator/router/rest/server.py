"""The REST router on 8008, behaving like ModelMesh's rest-proxy (grpc-gateway in front of 8033).

Only the V2 infer and model metadata routes exist; every other path is grpc-gateway's 404.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import EmulatorError
from ...v2_protos import dataplane_pb2
from ..dataplane import DataPlane, check_message_size
from ..status_map import error_json, http_status
from .body import RequestTooLargeError, body_limit, read_body
from .codec import infer_request_from_json, infer_response_to_json, model_metadata_to_json
from .fastpath import InferFastPath

__all__ = ["OFFLOAD_BYTES", "build_rest_app", "infer_json"]

log = logging.getLogger(__name__)

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
MODEL_METADATA = "inference.GRPCInferenceService/ModelMetadata"
_JSON = "application/json"
# Bodies and replies above this size are converted on a worker thread (tens of ms and more of CPU work).
OFFLOAD_BYTES = 64 * 1024


def _error(code: grpc.StatusCode, message: str, status: int | None = None) -> Response:
    return Response(error_json(code, message), status_code=status or http_status(code), media_type=_JSON)


def _request_bytes(model_name: str, model_version: str | None, body: bytes) -> bytes:
    return infer_request_from_json(model_name, model_version, body).SerializeToString()


def _response_json(reply: bytes) -> bytes:
    return infer_response_to_json(dataplane_pb2.ModelInferResponse.FromString(reply))


async def _converted(size: int, convert: Callable[..., bytes], *args: Any) -> bytes:
    """`convert(*args)`, on a worker thread when the input is large, so the loop keeps serving other requests."""
    if size > OFFLOAD_BYTES:
        return await asyncio.to_thread(convert, *args)
    return convert(*args)


def _failure(where: str, exc: Exception) -> tuple[int, bytes]:
    """An unexpected error: one log line (traceback at debug level) and a JSON 500, never a traceback to clients."""
    log.error("%s failed: %s: %s", where, type(exc).__name__, exc)
    log.debug("%s failed", where, exc_info=exc)
    return 500, error_json(grpc.StatusCode.INTERNAL, f"{where} failed: {type(exc).__name__}")


async def infer_json(dataplane: DataPlane, model_name: str, model_version: str | None, body: bytes, *,
                     max_message_size: int = -1) -> tuple[int, bytes]:
    """Status and JSON body of `POST /v2/models/{model_name}[/versions/{model_version}]/infer`."""
    try:
        request = await _converted(len(body), _request_bytes, model_name, model_version, body)
        check_message_size(len(request), max_message_size)  # as 8033 checks what rest-proxy sends it
        reply = await dataplane.call(MODEL_INFER, request, ())
        return 200, await _converted(len(reply), _response_json, reply)
    except EmulatorError as exc:
        return exc.http_status or http_status(exc.grpc_code), error_json(exc.grpc_code, exc.message)
    except Exception as exc:  # the client gets a JSON error, the log one line
        return _failure(f"REST infer of model {model_name!r}", exc)


def _fastapi_app(dataplane: DataPlane, max_message_size: int) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def infer(request: Request, model_name: str, model_version: str | None) -> Response:
        try:
            body = await read_body(request.scope, request.receive, body_limit(max_message_size))
        except RequestTooLargeError as exc:
            return Response(error_json(exc.grpc_code, exc.message), status_code=exc.http_status, media_type=_JSON,
                            headers={"connection": "close"})
        status, payload = await infer_json(dataplane, model_name, model_version, body or b"",
                                           max_message_size=max_message_size)
        return Response(payload, status_code=status, media_type=_JSON)

    async def metadata(model_name: str, model_version: str | None) -> Response:
        try:
            proto = dataplane_pb2.ModelMetadataRequest(name=model_name, version=model_version or "")
            reply = await dataplane.call(MODEL_METADATA, proto.SerializeToString(), ())
            return Response(model_metadata_to_json(dataplane_pb2.ModelMetadataResponse.FromString(reply)),
                            media_type=_JSON)
        except EmulatorError as exc:
            return _error(exc.grpc_code, exc.message)
        except Exception as exc:  # the client gets a JSON error, the log one line
            status, body = _failure(f"REST metadata of model {model_name!r}", exc)
            return Response(body, status_code=status, media_type=_JSON)

    @app.post("/v2/models/{model_name}/infer")
    async def model_infer(request: Request, model_name: str) -> Response:
        return await infer(request, model_name, None)

    @app.post("/v2/models/{model_name}/versions/{model_version}/infer")
    async def model_version_infer(request: Request, model_name: str, model_version: str) -> Response:
        return await infer(request, model_name, model_version)

    @app.get("/v2/models/{model_name}")
    async def model_metadata(model_name: str) -> Response:
        return await metadata(model_name, None)

    @app.get("/v2/models/{model_name}/versions/{model_version}")
    async def model_version_metadata(model_name: str, model_version: str) -> Response:
        return await metadata(model_name, model_version)

    @app.exception_handler(StarletteHTTPException)
    async def gateway_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _error(grpc.StatusCode.UNIMPLEMENTED, "Method Not Allowed", status=405)
        return _error(grpc.StatusCode.NOT_FOUND, "Not Found")

    return app


def build_rest_app(dataplane: DataPlane, max_message_size: int = -1) -> InferFastPath:
    """The rest-proxy app: infer requests on the fast path, everything else through FastAPI's routes.

    `max_message_size` (`grpcMaxMessageSizeBytes`; negative: unlimited) bounds the gRPC messages made from request
    bodies, and the bodies at BODY_PER_MESSAGE times it.
    """
    infer = partial(infer_json, max_message_size=max_message_size)
    return InferFastPath(_fastapi_app(dataplane, max_message_size), dataplane, infer, body_limit(max_message_size))
