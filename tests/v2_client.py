"""Small V2 clients for tests: gRPC through MLServer's generated stubs, REST through httpx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from mlserver.grpc import dataplane_pb2, dataplane_pb2_grpc

REQUESTS = Path(__file__).resolve().parents[1] / "sample_models" / "requests"

__all__ = ["REQUESTS", "expected_outputs", "grpc_infer", "grpc_request", "rest_request"]


def rest_request(isvc: str) -> dict[str, Any]:
    return json.loads((REQUESTS / f"{isvc}.json").read_text())


def expected_outputs(isvc: str) -> list[dict[str, Any]]:
    return json.loads((REQUESTS / f"{isvc}.expected.json").read_text())["outputs"]


def grpc_request(isvc: str) -> dataplane_pb2.ModelInferRequest:
    return json_format.Parse((REQUESTS / f"{isvc}.grpc.json").read_text(), dataplane_pb2.ModelInferRequest())


def grpc_infer(address: str, request: dataplane_pb2.ModelInferRequest,
               metadata: tuple[tuple[str, str], ...] = (), timeout: float = 120) -> dataplane_pb2.ModelInferResponse:
    with grpc.insecure_channel(address) as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        return stub.ModelInfer(request, metadata=metadata, timeout=timeout)
