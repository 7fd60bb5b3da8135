"""KServe V2 gRPC messages and a client stub, without importing the `mlserver` package.

The emulator needs only MLServer's generated `dataplane_pb2`, but `from mlserver.grpc import dataplane_pb2`
first runs `mlserver/__init__.py`, which imports pandas, aiokafka, OpenTelemetry and more: about 45 MiB of the
emulator's resident memory (docs/benchmarks.md). This module loads the same generated file by its path under a
private name. Should the `mlserver` package be imported as well (tests do), protobuf's default pool accepts the
identical file again and both names share one set of message classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from google.protobuf import message_factory

from .generated_module import load_generated_module

__all__ = ["GRPCInferenceServiceStub", "dataplane_pb2"]



if TYPE_CHECKING:
    from mlserver.grpc import dataplane_pb2
else:
    dataplane_pb2 = load_generated_module("mlserver.grpc.dataplane_pb2", "emulator._mlserver_dataplane_pb2",
                                          "mlserver", "grpc/dataplane_pb2.py")


class GRPCInferenceServiceStub:
    """`inference.GRPCInferenceService`'s unary methods as attributes (`stub.ServerReady(request)`), on a
    grpc.aio channel: MLServer's generated stub, without its import."""

    def __init__(self, channel: grpc.aio.Channel):
        service = dataplane_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            request = message_factory.GetMessageClass(method.input_type)
            response = message_factory.GetMessageClass(method.output_type)
            setattr(self, method.name, channel.unary_unary(
                f"/{service.full_name}/{method.name}", request_serializer=request.SerializeToString,
                response_deserializer=response.FromString))
