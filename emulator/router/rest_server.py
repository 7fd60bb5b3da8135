"""The REST router on 8008, behaving like ModelMesh's rest-proxy (grpc-gateway in front of 8033).

Only the V2 infer and model metadata routes exist; every other path is grpc-gateway's 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import grpc
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EmulatorError
from ..v2_protos import dataplane_pb2
from .dataplane import DataPlane
from .rest_codec import infer_request_from_json, infer_response_to_json, model_metadata_to_json
from .rest_fastpath import InferFastPath
from .status_map import error_body, http_status

__all__ = ["RestServer", "build_rest_app", "infer_json"]

log = logging.getLogger(__name__)

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
MODEL_METADATA = "inference.GRPCInferenceService/ModelMetadata"
_JSON = "application/json"


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket created with proto IPPROTO_TCP.

    asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and `socket.create_server` leaves
    proto 0: without Nagle disabled, uvicorn's two writes per response (head, then body) wait for the client's
    delayed ACK on a keep-alive connection, ~40 ms per request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as socket.create_server
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


def _error_json(code: grpc.StatusCode, message: str) -> bytes:
    return json.dumps(error_body(code, message), separators=(",", ":")).encode()


def _error(code: grpc.StatusCode, message: str, status: int | None = None) -> Response:
    return Response(_error_json(code, message), status_code=status or http_status(code), media_type=_JSON)


async def infer_json(dataplane: DataPlane, model_name: str, model_version: str | None,
                     body: bytes) -> tuple[int, bytes]:
    """Status and JSON body of `POST /v2/models/{model_name}[/versions/{model_version}]/infer`."""
    try:
        proto = infer_request_from_json(model_name, model_version, body)
        reply = await dataplane.call(MODEL_INFER, proto.SerializeToString(), ())
        return 200, infer_response_to_json(dataplane_pb2.ModelInferResponse.FromString(reply))
    except EmulatorError as exc:
        return http_status(exc.grpc_code), _error_json(exc.grpc_code, exc.message)


def _fastapi_app(dataplane: DataPlane) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def infer(request: Request, model_name: str, model_version: str | None) -> Response:
        status, body = await infer_json(dataplane, model_name, model_version, await request.body())
        return Response(body, status_code=status, media_type=_JSON)

    async def metadata(model_name: str, model_version: str | None) -> Response:
        try:
            proto = dataplane_pb2.ModelMetadataRequest(name=model_name, version=model_version or "")
            reply = await dataplane.call(MODEL_METADATA, proto.SerializeToString(), ())
            return Response(model_metadata_to_json(dataplane_pb2.ModelMetadataResponse.FromString(reply)),
                            media_type=_JSON)
        except EmulatorError as exc:
            return _error(exc.grpc_code, exc.message)

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


def build_rest_app(dataplane: DataPlane) -> InferFastPath:
    """The rest-proxy app: infer requests on the fast path, everything else through FastAPI's routes."""
    return InferFastPath(_fastapi_app(dataplane), dataplane, infer_json)


class RestServer:
    """uvicorn serving the REST app inside the caller's event loop, on a socket bound up front."""

    def __init__(self, dataplane: DataPlane, host: str, port: int):
        self._sock = _listening_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(build_rest_app(dataplane), lifespan="off", log_level="warning",
                                access_log=False)
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        self._main_loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._server.startup(sockets=[self._sock])
        self._main_loop = asyncio.create_task(self._server.main_loop())

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._main_loop is not None:
            await self._main_loop
        await self._server.shutdown(sockets=[self._sock])
        self._sock.close()
