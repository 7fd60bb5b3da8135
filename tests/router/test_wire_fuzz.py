"""Property-based fuzzing of both routers against a real `serve` process and a real MLServer model.

Whatever the bytes: the emulator answers every request itself with a client error (or passes a runtime's error
through, recognisable by ModelMesh's "<method>: <CODE>: " prefix), never a 5xx / UNKNOWN / INTERNAL of its own;
its log holds no traceback, its memory stays bounded, and the model keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.router.rest.types import TYPES
from tests.v2_client import REQUESTS, grpc_request
from tests.wire_support import RUNTIME_PREFIX, SKLEARN, RouterProcess, serve_router

pytestmark = pytest.mark.integration

MiB = 1 << 20
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLE_JSON = (REQUESTS / f"{SKLEARN}.json").read_bytes()
SAMPLE_PROTO = grpc_request(SKLEARN).SerializeToString()
# codes the emulator itself may answer with; anything else must come from the runtime
EMULATOR_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED,
                  grpc.StatusCode.RESOURCE_EXHAUSTED}

leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                   st.text(max_size=8))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                         max_size=3), max_leaves=24)
nested = st.integers(1, 60).map(lambda depth: json.loads("[" * depth + "1" + "]" * depth))
tensors = st.fixed_dictionaries(
    {"name": st.text(max_size=8), "datatype": st.sampled_from([*TYPES, "FP16", "", "fp32"]),
     "shape": st.lists(st.integers(-2, 2**40), max_size=4) | values},
    optional={"data": values | nested | st.lists(st.floats(allow_nan=False, width=32), max_size=70),
              "parameters": st.dictionaries(st.sampled_from(["content_type", "x"]), leaves | st.just("base64"))},
)
documents = st.fixed_dictionaries({}, optional={
    "id": leaves, "inputs": st.lists(tensors, max_size=3) | values, "outputs": st.lists(values, max_size=2),
    "parameters": values,
})


def _mutated(sample: bytes) -> st.SearchStrategy[bytes]:
    """`sample` with a few bytes replaced, cut short or with bytes appended."""
    edits = st.lists(st.tuples(st.integers(0, len(sample) - 1), st.integers(0, 255)), min_size=1, max_size=6)

    def apply(changes: list[tuple[int, int]], cut: int, tail: bytes) -> bytes:
        out = bytearray(sample)
        for position, byte in changes:
            out[position] = byte
        return bytes(out[:cut]) + tail

    return st.builds(apply, edits, st.integers(0, len(sample)), st.binary(max_size=8))




def _deep_body(datatype: str, depth: int, leaf: str) -> bytes:
    """Data `depth` arrays deep, written out (json.dumps itself would hit the recursion limit)."""
    data = "[" * depth + leaf + "]" * depth
    return f'{{"inputs":[{{"name":"x","datatype":"{datatype}","shape":[1,1],"data":[{data},{leaf}]}}]}}'.encode()


deep_bodies = st.builds(_deep_body, st.sampled_from(["FP32", "INT64", "BYTES"]), st.integers(900, 1100),
                        st.sampled_from(["1", '"YQ=="']))
rest_bodies = st.one_of(documents.map(lambda doc: json.dumps(doc).encode()), st.binary(max_size=256),
                        _mutated(SAMPLE_JSON), deep_bodies)
grpc_bodies = st.one_of(st.binary(max_size=256), _mutated(SAMPLE_PROTO))
grpc_methods = st.sampled_from(["inference.GRPCInferenceService/ModelInfer",
                                "inference.GRPCInferenceService/ModelMetadata", "fuzz.Service/Anything"])
grpc_headers = st.lists(st.tuples(st.sampled_from(["mm-vmodel-id-bin", "mm-model-id-bin"]), st.binary(max_size=8))
                        | st.just(("mm-vmodel-id", SKLEARN)), max_size=2)


@pytest.fixture(scope="module")
def rest(router: RouterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.rest_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[RouterProcess]:
    with serve_router(tmp_path_factory.mktemp("fuzz-cache"), sample_s3_root) as served:
        rss = served.rss_bytes()
        yield served
        served.assert_serving()
        assert "Traceback" not in served.log(), served.log()
        assert served.rss_bytes() - rss < 64 * MiB


def _emulator_error(status: int, reply: dict[str, Any]) -> bool:
    return status >= 500 and not str(reply.get("message", "")).startswith(RUNTIME_PREFIX)


@FUZZ
@given(body=rest_bodies, model=st.sampled_from([SKLEARN, "no-such-model"]), version=st.none() | st.just("1"))
def test_rest_answers_any_body_without_a_5xx_of_its_own(rest: httpx.Client, body: bytes, model: str,
                                                        version: str | None) -> None:
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"

    reply = rest.post(path, content=body)

    assert reply.headers["content-type"] == "application/json"
    payload = reply.json()
    assert not _emulator_error(reply.status_code, payload), (reply.status_code, payload)


@FUZZ
@given(request=grpc_bodies, method=grpc_methods, headers=grpc_headers)
def test_grpc_answers_any_bytes_with_a_client_error_or_the_runtimes(
        router: RouterProcess, request: bytes, method: str, headers: list[tuple[str, str | bytes]]) -> None:
    with grpc.insecure_channel(router.grpc_address) as channel:
        try:
            channel.unary_unary(f"/{method}")(request, metadata=headers, timeout=60)
            return
        except grpc.RpcError as exc:
            error = exc

    from_runtime = error.details().startswith(f"{method}: ")
    assert from_runtime or error.code() in EMULATOR_CODES, (error.code(), error.details())
