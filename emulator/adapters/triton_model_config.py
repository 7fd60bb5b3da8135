"""Triton's `ModelConfig` message (config.pbtxt), from tritonclient's generated `model_config_pb2`.

Loaded by path under a private name: `import tritonclient.grpc` would also register Triton's `grpc_service.proto`,
whose `inference.*` messages clash in protobuf's default pool with MLServer's `dataplane.proto`, which the
emulator already uses for the same KServe V2 API (v2_protos.py; the wire format is the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..generated_module import load_generated_module

__all__ = ["model_config_pb2"]


if TYPE_CHECKING:
    from tritonclient.grpc import model_config_pb2
else:
    model_config_pb2 = load_generated_module("tritonclient.grpc.model_config_pb2", "emulator._triton_model_config_pb2",
                                             "tritonclient", "grpc/model_config_pb2.py")
