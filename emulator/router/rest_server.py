"""The REST router on 8008, behaving like ModelMesh's rest-proxy (grpc-gateway in front of 8033).

Only the V2 infer and model metadata routes exist; every other path is grpc-gateway's 404.
"""

from __future__ import annotations

import json
import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import EmulatorError
from ..v2_protos import dataplane_pb2
from .dataplane import DataPlane
from .rest_codec import infer_request_from_json, infer_response_to_json, model_metadata_to_json
from .rest_fastpath import InferFastPath
from .status_map import error_body, http_status

__all__ = ["build_rest_app", "infer_json"]

log = logging.getLogger(__name__)

MODEL_INFER = "inference.GRPCInferenceService/ModelInfer"
MODEL_METADATA = "inference.GRPCInferenceService/ModelMetadata"
_JSON = "application/json"


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
