"""KServe V2 gRPC messages and a client stub, without importing the `mlserver` package.

The emulator needs only MLServer's generated `dataplane_pb2`, but `from mlserver.grpc import dataplane_pb2`
first runs `mlserver/__init__.py`, which imports pandas, aiokafka, OpenTelemetry and more: about 45 MiB of the
emulator's resident memory (docs/benchmarks.md). This module loads the same generated file by its path under a
private name. Should the `mlserver` package be imported as well (tests do), protobuf's default pool accepts the
identical file again and both names share one set of message classes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import grpc
from google.protobuf import message_factory

__all__ = ["GRPCInferenceServiceStub", "dataplane_pb2"]

_PRIVATE_NAME = "emulator._mlserver_dataplane_pb2"


def _load_dataplane_pb2() -> ModuleType:
    loaded = sys.modules.get("mlserver.grpc.dataplane_pb2") or sys.modules.get(_PRIVATE_NAME)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("mlserver")  # locates the package without running its __init__
    if package is None or package.origin is None:
        raise ImportError("mlserver is not installed: the KServe V2 messages come from its generated dataplane_pb2")
    spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, Path(package.origin).parent / "grpc" /
                                                  "dataplane_pb2.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PRIVATE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PRIVATE_NAME]
        raise
    return module


if TYPE_CHECKING:
    from mlserver.grpc import dataplane_pb2
else:
    dataplane_pb2 = _load_dataplane_pb2()


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
