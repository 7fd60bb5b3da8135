"""ModelMesh's payload processors: a local HTTP sink gets one request and one response record per inference, with
upstream's fields (base64 of the raw protobuf) and the emulator's decoded JSON; a dead sink fails no request; a
full queue drops records and counts them."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from mlserver.grpc import dataplane_pb2
from prometheus_client import CollectorRegistry

from emulator.launchers.ports import free_port
from emulator.router.payload_processors import PayloadProcessors, parse_payload_processors
from emulator.router.payload_records import PayloadRecord
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT
from tests.v2_client import expected_outputs, grpc_infer, grpc_request, rest_request

ISVC = "example-sklearn-mnist-svm"


class Sink:
    """A local HTTP server recording each POSTed JSON body and its path."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with sink._changed:
                    sink.records.append((self.path, self.headers["Content-Type"], json.loads(body)))
                    sink._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.records) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"sink got {len(self.records)} records, expected {count}"
                self._changed.wait(remaining)
            return [body for _, _, body in self.records]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    sink = Sink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def logged(make_settings: Callable[..., Settings], sample_s3_root: Path, sink: Sink) -> Iterator[EmulatorThread]:
    dead = free_port()  # nothing listens there
    processors = (f"http://127.0.0.1:{sink.port}/consumer/kserve/v2 http://127.0.0.1:{dead}/dead "
                  f"logger:///*#inference.GRPCInferenceService/ModelInfer")
    settings = make_settings(local_s3_root=sample_s3_root, payload_processors=processors, payload_decoded_json=True)
    with EmulatorThread(settings) as emu:
        emu.apply(ROOT / "runtimes" / "mlserver-1.x.yaml", ROOT / "sample_models" / "sklearn-mnist-svm.yaml")
        yield emu


def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.1)


def _records_after(sink: Sink, before: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and the response record of the next call (two workers may deliver them in either order)."""
    records = sorted(sink.wait_for(before + 2)[before:before + 2], key=lambda record: record["kind"])
    assert [record["kind"] for record in records] == ["request", "response"]
    return records[0], records[1]


def test_a_grpc_inference_sends_one_request_and_one_response_record(logged: EmulatorThread, sink: Sink,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    before = len(sink.records)
    with caplog.at_level(logging.INFO, logger="modelmesh.payload"):
        reply = grpc_infer(logged.grpc_address, grpc_request(ISVC), metadata=(("mm-vmodel-id", ISVC),
                                                                              ("x-trace", "abc")))
        request, response = _records_after(sink, before)
        logged_line = f"Payload: Payload{{id='{request['id']}', vModelId=null, modelId='{reply.model_name}', " \
                      "method='inference.GRPCInferenceService/ModelInfer', status=request} decodedJson="
        _wait_for_log(caplog, logged_line)

    assert list(reply.outputs[0].contents.int64_contents) == expected_outputs(ISVC)[0]["data"]
    assert request["id"] == response["id"]
    assert (request["kind"], request["status"], response["kind"], response["status"]) == (
        "request", "", "response", "OK")
    assert request["modelid"] == response["modelid"] == reply.model_name
    assert request["vModelId"] is None and response["vModelId"] is None
    assert request["metadata"]["x-trace"] == "abc"
    assert dataplane_pb2.ModelInferRequest.FromString(base64.b64decode(request["data"])) == grpc_request(ISVC)
    assert dataplane_pb2.ModelInferResponse.FromString(base64.b64decode(response["data"])) == reply
    assert {path for path, _, _ in sink.records[before:]} == {"/consumer/kserve/v2"}
    assert {kind for _, kind, _ in sink.records[before:]} == {"application/json"}
    assert logged_line in caplog.text


def test_records_carry_the_tensors_as_json(logged: EmulatorThread, sink: Sink) -> None:
    before = len(sink.records)
    body = rest_request(ISVC)
    reply = httpx.post(f"{logged.rest_url}/v2/models/{ISVC}/infer", json=body, timeout=60).json()
    request, response = _records_after(sink, before)

    assert request["decodedJson"]["inputs"] == body["inputs"]
    assert response["decodedJson"] == reply


def test_a_failed_inference_sends_a_response_record_with_its_code(logged: EmulatorThread, sink: Sink) -> None:
    before = len(sink.records)
    unknown = grpc_request(ISVC)
    unknown.model_name = "no-such-model"
    with pytest.raises(grpc.RpcError) as error:
        grpc_infer(logged.grpc_address, unknown)
    request, response = _records_after(sink, before)

    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert (request["kind"], response["kind"], response["status"]) == ("request", "response", "NOT_FOUND")
    assert request["modelid"] is None and response["data"] == ""


def test_the_dead_sink_fails_no_request_and_holds_back_no_record_of_the_live_one(logged: EmulatorThread,
                                                                               sink: Sink) -> None:
    before = len(sink.records)
    replies = [grpc_infer(logged.grpc_address, grpc_request(ISVC), metadata=(("mm-vmodel-id", ISVC),))
               for _ in range(5)]
    records = sink.wait_for(before + 10)[before:]

    assert [list(reply.outputs[0].contents.int64_contents) for reply in replies] == [
        expected_outputs(ISVC)[0]["data"]] * 5
    assert sorted(record["kind"] for record in records) == ["request"] * 5 + ["response"] * 5


async def test_a_refusing_sink_is_logged_once_then_skipped_while_it_backs_off(
        caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    dead = f"http://127.0.0.1:{free_port()}/dead"
    processors = PayloadProcessors(parse_payload_processors(dead), capacity=64, workers=1, decode=False,
                                   registry=registry)
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(4):
                processors.submit(_record("m1"))
            deadline = time.monotonic() + 30
            while registry.get_sample_value("mmemu_payload_records_dropped_total",
                                            {"reason": "sink_unreachable"}) != 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
    finally:
        await processors.aclose()

    assert registry.get_sample_value("mmemu_payload_records_dropped_total", {"reason": "sink_unreachable"}) == 3
    assert caplog.text.count("An error occurred while sending payload") == 1
    assert f"to {dead}: ConnectError" in caplog.text


def test_uri_grammar_is_modelmeshs() -> None:
    processors = parse_payload_processors("logger:///*?pytorch1234#predict  http://h:8080/c?/m1 example:8080/x "
                                          "ftp://h/x https://h/y#*")

    assert [(p.scheme, p.model_id, p.method) for p in processors] == [
        ("logger", "pytorch1234", "predict"), ("http", "m1", None), ("https", None, None)]
    assert processors[1].target == "http://h:8080/c?/m1"


def _record(model_id: str, method: str = "inference.GRPCInferenceService/ModelInfer") -> PayloadRecord:
    return PayloadRecord("1-1", model_id, method, (), b"", None)


def test_filters_match_model_id_and_method() -> None:
    processor = parse_payload_processors("logger://?m1#inference.GRPCInferenceService/ModelInfer")[0]

    assert processor.matches(_record("m1"))
    assert not processor.matches(_record("m2"))
    assert not processor.matches(_record("m1", "inference.GRPCInferenceService/ModelMetadata"))


async def test_a_full_queue_drops_and_counts_without_waiting(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    processors = PayloadProcessors(parse_payload_processors("logger://"), capacity=2, workers=1, decode=False,
                                   registry=registry)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(5):  # in one step of the loop: the worker takes none before the queue is full
                processors.submit(_record("m1"))
    finally:
        await processors.aclose()

    assert registry.get_sample_value("mmemu_payload_records_dropped_total", {"reason": "queue_full"}) == 3
    assert "1 payloads were dropped because of 2 capacity limit in the last 1 MINUTES" in caplog.text
