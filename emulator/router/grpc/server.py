"""The gRPC router on 8033: any unary method, forwarded as raw bytes; reflection and health beside it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ...errors import EmulatorError
from ...v2_protos import dataplane_pb2
from ..dataplane import ID_EXTRACTION_PATHS, STREAMING_METHODS, DataPlane, check_message_size
from ..tls_config import TlsConfig

__all__ = ["start_grpc_server"]

log = logging.getLogger(__name__)

INFERENCE_SERVICE = dataplane_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
_NOT_ROUTED = ("/grpc.reflection.", "/grpc.health.")
# handlers are kept for these only: any other method name is the client's choice, and a cache would grow with it
_CACHED_METHODS = frozenset(f"/{method}" for method in (*ID_EXTRACTION_PATHS, *STREAMING_METHODS))


class _PassThrough(grpc.GenericRpcHandler):
    def __init__(self, dataplane: DataPlane, max_message_size: int):
        self._dataplane = dataplane
        self._max_message_size = max_message_size
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method.startswith(_NOT_ROUTED):
            return None
        handler = self._handlers.get(method)
        if handler is None:
            if method.lstrip("/") in STREAMING_METHODS:
                handler = grpc.stream_stream_rpc_method_handler(_streaming_unsupported)
            else:
                handler = grpc.unary_unary_rpc_method_handler(partial(self._call, method.lstrip("/")))
            if method in _CACHED_METHODS:
                self._handlers[method] = handler
        return handler

    async def _call(self, method: str, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            check_message_size(len(request), self._max_message_size)
            return await self._dataplane.call(
                method, request, context.invocation_metadata() or (), context.time_remaining()
            )
        except EmulatorError as exc:
            code, message = exc.grpc_code, exc.message
        except Exception as exc:  # a bug: one log line (traceback at debug level), never grpc's UNKNOWN + traceback
            log.error("%s failed: %s: %s", method, type(exc).__name__, exc)
            log.debug("%s failed", method, exc_info=exc)
            code, message = grpc.StatusCode.INTERNAL, f"{method} failed: {type(exc).__name__}"
        await context.abort(code, message)
        raise AssertionError("unreachable: abort raises")


async def _streaming_unsupported(_: object, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Streaming not supported yet")


def _core_receive_limit(max_message_size: int) -> int:
    return -1 if max_message_size < 0 else min(2 * max_message_size, 2**31 - 1)


async def start_grpc_server(dataplane: DataPlane, host: str, port: int, max_message_size: int,
                            services: Sequence[tuple[str, Callable[[grpc.aio.Server], None]]] = (),
                            tls: TlsConfig | None = None) -> tuple[grpc.aio.Server, int]:
    """`services`: (full service name, adder) of services served beside the pass-through (and in reflection),
    such as `mmesh.ModelMesh`. `tls`: serve TLS (mTLS when it requires client certificates), else plaintext."""
    # The size limit is checked per call, so that an oversized message gets ModelMesh's (grpc-java's) error text
    # rather than grpc core's "Received message larger than max (...)". Core still refuses, from the length prefix
    # and before buffering it, any message over twice the limit: that one gets core's text.
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", _core_receive_limit(max_message_size)),
        ("grpc.max_send_message_length", -1),
        ("grpc.so_reuseport", 0),
    ])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for _, add_service in services:
        add_service(server)
    reflection.enable_server_reflection(
        [INFERENCE_SERVICE, *(name for name, _ in services), health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME], server,
    )
    server.add_generic_rpc_handlers((_PassThrough(dataplane, max_message_size),))
    if tls is None:
        bound = server.add_insecure_port(f"{host}:{port}")
    else:
        credentials = grpc.ssl_server_credentials([(tls.key_pem, tls.cert_pem)], root_certificates=tls.trust_pem,
                                                  require_client_auth=tls.require_client_auth)
        bound = server.add_secure_port(f"{host}:{port}", credentials)
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {host}:{port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC inference on %s:%d%s", host, bound,
             "" if tls is None else f" (TLS, client auth {tls.client_auth})")
    return server, bound
