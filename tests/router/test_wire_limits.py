"""Issue 12 items 6-8 on a real `serve` process with a real MLServer: request size limits, REST conversion off the
event loop, clean INVALID_ARGUMENT errors for malformed input, and bounded state for client-chosen method names."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.v2_client import REQUESTS
from tests.wire_support import SKLEARN, RouterProcess, serve_router

pytestmark = pytest.mark.integration

LIMIT = 16777216  # grpcMaxMessageSizeBytes, the default
BODY_LIMIT = 4 * LIMIT  # a REST body's bound
MiB = 1 << 20
INFER = f"/v2/models/{SKLEARN}/infer"
SMALL_BODY = (REQUESTS / f"{SKLEARN}.json").read_bytes()


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[RouterProcess]:
    with serve_router(tmp_path_factory.mktemp("wire-cache"), sample_s3_root) as served:
        yield served


@pytest.fixture(autouse=True)
def clean_log_and_still_serving(router: RouterProcess) -> Iterator[None]:
    """Every test: the model still serves afterwards, and no request put a traceback in the emulator's log."""
    yield
    router.assert_serving()
    assert "Traceback" not in router.log(), router.log()


def _chunks(total: int, size: int = MiB) -> Iterator[bytes]:
    chunk = b" " * size
    for _ in range(total // size):
        yield chunk


def test_a_100_mb_body_is_refused_from_its_content_length_without_reading_it(router: RouterProcess) -> None:
    before = router.rss_bytes()

    reply = httpx.post(router.rest_url + INFER, content=b" " * (100 * MiB), timeout=120)

    assert reply.status_code == 413
    assert reply.json() == {"code": grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "message":
                            f"request body exceeds maximum size {BODY_LIMIT} (4 x grpcMaxMessageSizeBytes): "
                            f"Content-Length {100 * MiB}"}
    assert router.rss_bytes() - before < 32 * MiB


def test_a_streamed_body_is_refused_once_past_the_limit_and_never_buffered_whole(router: RouterProcess) -> None:
    before = router.rss_bytes()

    reply = httpx.post(router.rest_url + INFER, content=_chunks(100 * MiB), timeout=120)  # chunked: no length

    assert reply.status_code == 413
    assert reply.json()["message"] == \
        f"request body exceeds maximum size {BODY_LIMIT} (4 x grpcMaxMessageSizeBytes): " \
        f"more than {BODY_LIMIT} bytes received"
    assert router.rss_bytes() - before < BODY_LIMIT + 32 * MiB  # at most the limit held, not the 100 MB sent


def _wide_fp64_body(elements: int) -> bytes:
    """A body under the limit whose FP64 message (8 bytes per "0,") is far over it."""
    data = b",".join([b"0"] * elements)
    return (b'{"inputs":[{"name":"predict","datatype":"FP64","shape":[1,%d],"data":[%s]}]}' % (elements, data))


def test_small_requests_are_answered_while_a_big_body_is_converted(router: RouterProcess) -> None:
    body = _wide_fp64_body(6_000_000)
    assert len(body) < LIMIT < 8 * 6_000_000
    uploaded, answered = threading.Event(), threading.Event()
    big: list[httpx.Response] = []

    def upload() -> Iterator[bytes]:
        for start in range(0, len(body), MiB):
            yield body[start:start + MiB]
        uploaded.set()  # httpx asks for more only once the last chunk is written

    def send_big() -> None:
        try:
            big.append(httpx.post(router.rest_url + INFER, content=upload(), timeout=300))
        finally:
            uploaded.set()
            answered.set()

    sender = threading.Thread(target=send_big)
    sender.start()
    small_while_converting = 0
    with httpx.Client(base_url=router.rest_url, timeout=60) as client:
        assert uploaded.wait(120)
        while not answered.is_set():
            reply = client.post(INFER, content=SMALL_BODY)
            assert reply.status_code == 200, reply.text
            if not answered.is_set():
                small_while_converting += 1
    sender.join()

    # rest-proxy sends any message; 8033 refuses it (RESOURCE_EXHAUSTED → 429) with grpc-java's text
    assert big[0].status_code == 429
    refused = re.fullmatch(rf"gRPC message exceeds maximum size {LIMIT}: (\d+)", big[0].json()["message"])
    assert refused is not None and int(refused[1]) > 8 * 6_000_000
    # a conversion on the event loop would have held every small request until the big answer was sent
    assert small_while_converting >= 5


def test_data_nested_1000_deep_is_a_400_naming_the_depth(router: RouterProcess) -> None:
    data = "[" * 1000 + '"YQ=="' + "]" * 1000
    body = f'{{"inputs":[{{"name":"x","datatype":"BYTES","shape":{[1] * 999},"data":{data}}}]}}'

    reply = httpx.post(router.rest_url + INFER, content=body, timeout=60)

    assert reply.status_code == 400
    assert reply.json() == {"code": grpc.StatusCode.INVALID_ARGUMENT.value[0], "message":
                            "invalid tensor data: exceeded max depth: arrays nested more than 64 deep"}


def _raw_call(router: RouterProcess, method: str, request: bytes,
              metadata: tuple[tuple[str, str | bytes], ...] = ()) -> grpc.RpcError | bytes:
    with grpc.insecure_channel(router.grpc_address) as channel:
        try:
            return channel.unary_unary(method)(request, metadata=metadata, timeout=60)
        except grpc.RpcError as exc:
            return exc


def test_a_grpc_message_over_the_limit_is_resource_exhausted_with_modelmeshs_text(router: RouterProcess) -> None:
    error = _raw_call(router, "/inference.GRPCInferenceService/ModelInfer", b"\x0a\x01x" * (LIMIT // 3 + 1))

    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == f"gRPC message exceeds maximum size {LIMIT}: {3 * (LIMIT // 3 + 1)}"


def test_a_100_mb_grpc_message_is_refused_without_being_buffered(router: RouterProcess) -> None:
    before = router.rss_bytes()

    error = _raw_call(router, "/inference.GRPCInferenceService/ModelInfer", b"\x0a\x01x" * (100 * MiB // 3))

    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert router.rss_bytes() - before < 32 * MiB  # it held the whole 100 MB before


@pytest.mark.parametrize(("request_bytes", "cause"), [
    (b"\x0a\x05ab", "length-delimited field at offset 0 runs past its message"),
    (b"\x0a\x02\xff\xfe", "string field at path [1] is not valid UTF-8"),
    (b"\x0b", "group wire type at offset 0 is not supported"),
])
@pytest.mark.parametrize("method", ["ModelInfer", "ModelMetadata"])
def test_a_malformed_protobuf_is_invalid_argument_naming_the_problem(router: RouterProcess, method: str,
                                                                     request_bytes: bytes, cause: str) -> None:
    error = _raw_call(router, f"/inference.GRPCInferenceService/{method}", request_bytes)

    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"malformed {method} request: {cause}"


@pytest.mark.parametrize("header", ["mm-vmodel-id-bin", "mm-model-id-bin"])
def test_invalid_utf8_in_a_binary_model_id_header_is_invalid_argument(router: RouterProcess, header: str) -> None:
    error = _raw_call(router, "/inference.GRPCInferenceService/ModelInfer", b"", ((header, b"\xff\xfe"),))

    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"header {header} must be base64-encoded UTF-8"


def _method_labels(metrics: str) -> set[str]:
    return set(re.findall(r'^modelmesh_api_request_milliseconds_count\{[^}]*method="([^"]*)"', metrics, re.M))


def _unknown_methods(router: RouterProcess, prefix: str, count: int) -> None:
    routed = (("mm-vmodel-id", SKLEARN),)
    with grpc.insecure_channel(router.grpc_address) as channel:
        for index in range(count):
            try:  # half reach the runtime (routed by header), half fail before (no model id)
                channel.unary_unary(f"/{prefix}.Service/Method{index}")(b"", metadata=routed[:index % 2], timeout=60)
            except grpc.RpcError as exc:
                assert exc.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT), exc


def test_client_chosen_method_names_share_one_label_and_leave_no_state(router: RouterProcess) -> None:
    _unknown_methods(router, "warmup", 500)
    labels, rss = _method_labels(router.metrics()), router.rss_bytes()

    _unknown_methods(router, "fuzz", 3000)

    assert _method_labels(router.metrics()) == labels
    assert "other" in labels and not any(label.startswith("Method") for label in labels)
    assert router.rss_bytes() - rss < 8 * MiB  # before: ~10 kB per name (a label set and a cached callable)
