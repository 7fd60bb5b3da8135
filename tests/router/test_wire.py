"""Wire-format helpers: reading and rewriting the model id without decoding the request."""

from __future__ import annotations

import time

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mlserver.grpc import dataplane_pb2 as pb

from emulator.router.wire import WireFormatError, read_string_field, replace_string_field

CONCRETE = "mnist-svm__isvc-5c6f3ab55b"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _infer_request(**fields: object) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="mnist-svm", model_version="1", id="req-1", **fields)
    request.parameters["content_type"].string_param = "np"
    request.parameters["priority"].int64_param = -3
    tensor = request.inputs.add(name="predict", datatype="FP32", shape=[1, 64])
    tensor.parameters["flag"].bool_param = True
    request.outputs.add(name="predict")
    request.raw_input_contents.append(bytes(range(256)))
    return request


def _with_model_name(request: pb.ModelInferRequest, name: str) -> pb.ModelInferRequest:
    expected = pb.ModelInferRequest()
    expected.CopyFrom(request)
    expected.model_name = name
    return expected


def _predict_request_class() -> type:
    """A tensorflow-serving-shaped PredictRequest {ModelSpec model_spec = 1 {string name = 1; ...}; ...}."""
    proto = descriptor_pb2.FileDescriptorProto(name="tfs_like.proto", package="tfs_like", syntax="proto3")
    spec = proto.message_type.add(name="ModelSpec")
    spec.field.add(name="name", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    spec.field.add(name="signature_name", number=3, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    request = proto.message_type.add(name="PredictRequest")
    request.field.add(name="model_spec", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                      type_name=".tfs_like.ModelSpec")
    request.field.add(name="payload", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tfs_like.PredictRequest"))


PredictRequest = _predict_request_class()


def test_reads_model_name_of_a_serialised_infer_request() -> None:
    assert read_string_field(_infer_request().SerializeToString(), [1]) == "mnist-svm"


def test_reads_name_of_a_metadata_request() -> None:
    data = pb.ModelMetadataRequest(name="mnist-svm", version="2").SerializeToString()
    assert read_string_field(data, [1]) == "mnist-svm"
    assert read_string_field(data, [2]) == "2"


def test_replace_round_trips_through_protobuf() -> None:
    request = _infer_request()
    data = request.SerializeToString()
    rewritten = replace_string_field(data, [1], CONCRETE)
    assert pb.ModelInferRequest.FromString(rewritten) == _with_model_name(request, CONCRETE)
    assert read_string_field(rewritten, [1]) == CONCRETE


def test_replace_keeps_every_other_byte() -> None:
    data = _infer_request().SerializeToString()
    old_field = _len_field(1, b"mnist-svm")
    assert data.startswith(old_field)
    rewritten = replace_string_field(data, [1], CONCRETE)
    assert rewritten == _len_field(1, CONCRETE.encode()) + data[len(old_field):]


def test_replace_metadata_request() -> None:
    data = pb.ModelMetadataRequest(name="mnist-svm", version="2").SerializeToString()
    rewritten = pb.ModelMetadataRequest.FromString(replace_string_field(data, [1], CONCRETE))
    assert rewritten == pb.ModelMetadataRequest(name=CONCRETE, version="2")


def test_absent_field_reads_none_and_is_written_first() -> None:
    request = _infer_request()
    request.ClearField("model_name")
    data = request.SerializeToString()
    assert read_string_field(data, [1]) is None
    rewritten = replace_string_field(data, [1], CONCRETE)
    assert rewritten == _len_field(1, CONCRETE.encode()) + data
    assert pb.ModelInferRequest.FromString(rewritten) == _with_model_name(request, CONCRETE)


def test_empty_message() -> None:
    assert read_string_field(b"", [1]) is None
    assert pb.ModelMetadataRequest.FromString(replace_string_field(b"", [1], "x")).name == "x"


def test_empty_string_value_is_present_but_empty() -> None:
    data = _len_field(1, b"") + _len_field(2, b"v")
    assert read_string_field(data, [1]) == ""
    assert replace_string_field(data, [1], "") == data
    assert pb.ModelMetadataRequest.FromString(replace_string_field(data, [1], "m")).name == "m"


@pytest.mark.parametrize("value", ["modèle-ünïcode", "模型", "emoji-🤖", "a" * 300])
def test_unicode_and_long_values(value: str) -> None:
    request = _infer_request()
    rewritten = replace_string_field(request.SerializeToString(), [1], value)
    assert read_string_field(rewritten, [1]) == value
    assert pb.ModelInferRequest.FromString(rewritten) == _with_model_name(request, value)


def test_repeated_occurrences_last_wins_and_all_are_replaced() -> None:
    data = _len_field(1, b"first") + _len_field(3, b"id-9") + _len_field(1, b"second") + _len_field(2, b"v1")
    assert pb.ModelInferRequest.FromString(data).model_name == "second"
    assert read_string_field(data, [1]) == "second"
    rewritten = replace_string_field(data, [1], CONCRETE)
    assert rewritten == _len_field(1, CONCRETE.encode()) + _len_field(3, b"id-9") + _len_field(2, b"v1")
    assert pb.ModelInferRequest.FromString(rewritten) == pb.ModelInferRequest(
        model_name=CONCRETE, id="id-9", model_version="v1")


def test_unknown_fields_and_other_wire_types_survive() -> None:
    unknown = (
        _varint(99 << 3 | 0) + _varint(2**63)  # varint
        + _varint(100 << 3 | 1) + bytes(range(8))  # 64-bit
        + _varint(101 << 3 | 5) + bytes(range(4))  # 32-bit
        + _len_field(102, b"\x00\xff junk")  # length-delimited
        + _varint(1 << 3 | 0) + _varint(7)  # field 1 with the wrong wire type: an unknown field to protobuf
    )
    data = _infer_request().SerializeToString() + unknown
    assert read_string_field(data, [1]) == "mnist-svm"
    rewritten = replace_string_field(data, [1], CONCRETE)
    assert rewritten.endswith(unknown)
    parsed = pb.ModelInferRequest.FromString(rewritten)
    assert parsed.model_name == CONCRETE
    assert parsed.SerializeToString().endswith(unknown)


def test_nested_path_reads_and_replaces_model_spec_name() -> None:
    request = PredictRequest()
    request.model_spec.name = "tf-model"
    request.model_spec.signature_name = "serving_default"
    request.payload = b"\x01" * 1000
    data = request.SerializeToString()
    assert read_string_field(data, [1, 1]) == "tf-model"
    assert read_string_field(data, [1, 3]) == "serving_default"
    rewritten = PredictRequest.FromString(replace_string_field(data, [1, 1], CONCRETE))
    assert rewritten.model_spec.name == CONCRETE
    assert rewritten.model_spec.signature_name == "serving_default"
    assert rewritten.payload == request.payload


def test_nested_path_creates_missing_intermediate_message() -> None:
    request = PredictRequest(payload=b"abc")
    data = request.SerializeToString()
    assert read_string_field(data, [1, 1]) is None
    rewritten = PredictRequest.FromString(replace_string_field(data, [1, 1], CONCRETE))
    assert rewritten.model_spec.name == CONCRETE
    assert rewritten.payload == b"abc"


def test_nested_path_merges_repeated_parent_occurrences() -> None:
    spec_a = _len_field(1, b"a") + _len_field(3, b"sig-a")
    spec_b = _len_field(1, b"b")
    data = _len_field(1, spec_a) + _len_field(2, b"p") + _len_field(1, spec_b)
    assert PredictRequest.FromString(data).model_spec.name == "b"
    assert read_string_field(data, [1, 1]) == "b"
    rewritten = PredictRequest.FromString(replace_string_field(data, [1, 1], CONCRETE))
    assert rewritten.model_spec.name == CONCRETE
    assert rewritten.model_spec.signature_name == "sig-a"
    assert rewritten.payload == b"p"


def test_accepts_memoryview_and_bytearray() -> None:
    data = _infer_request().SerializeToString()
    assert read_string_field(memoryview(data), [1]) == "mnist-svm"
    assert read_string_field(bytearray(data), [1]) == "mnist-svm"
    assert replace_string_field(memoryview(data), [1], "x") == replace_string_field(data, [1], "x")


@pytest.mark.parametrize("cut", [1, 5, 12, 30, -100, -1])
def test_truncated_input_raises(cut: int) -> None:
    data = _infer_request().SerializeToString()
    with pytest.raises(WireFormatError):
        read_string_field(data[:cut], [1])
    with pytest.raises(WireFormatError):
        replace_string_field(data[:cut], [1], "x")


def test_every_truncation_either_parses_or_raises() -> None:
    data = _infer_request().SerializeToString()
    field_end = len(_len_field(1, b"mnist-svm"))
    for cut in range(len(data)):
        try:
            name = read_string_field(data[:cut], [1])
        except WireFormatError:
            assert 0 < cut < field_end or cut > field_end
        else:
            assert name == ("mnist-svm" if cut >= field_end else None)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_varint(2 << 3 | 3) + _varint(2 << 3 | 4), "group"),
        (_varint(2 << 3 | 6), "wire type 6"),
        (_varint(2 << 3 | 7), "wire type 7"),
        (b"\x00\x01", "field number 0"),
        (_varint(2 << 3 | 0) + b"\xff" * 11, "varint longer"),
        (_varint(2 << 3 | 1) + b"\x00" * 7, "runs past"),
        (_varint(2 << 3 | 5) + b"\x00" * 3, "runs past"),
        (_len_field(1, b"\xff\xfe"), "UTF-8"),
    ],
)
def test_malformed_bytes_raise(data: bytes, reason: str) -> None:
    with pytest.raises(WireFormatError, match=reason):
        read_string_field(data, [1])


def test_malformed_nested_message_raises() -> None:
    with pytest.raises(WireFormatError):
        read_string_field(_len_field(1, b"\x0a\x05ab"), [1, 1])


def test_wire_format_error_is_a_value_error() -> None:
    assert issubclass(WireFormatError, ValueError)


@pytest.mark.parametrize("path", [[], [0], [1 << 29]])
def test_invalid_paths_are_rejected(path: list[int]) -> None:
    with pytest.raises(ValueError, match=r"path|field number"):
        read_string_field(b"", path)


def test_sixteen_mib_raw_contents_stay_fast() -> None:
    request = _infer_request()
    request.raw_input_contents[0] = b"\x07" * (16 << 20)
    data = request.SerializeToString()
    start = time.perf_counter()
    for _ in range(10):
        assert read_string_field(data, [1]) == "mnist-svm"
    read_seconds = (time.perf_counter() - start) / 10
    start = time.perf_counter()
    for _ in range(10):
        rewritten = replace_string_field(data, [1], CONCRETE)
    replace_seconds = (time.perf_counter() - start) / 10
    assert read_seconds < 0.001  # only the top-level field headers are visited
    assert replace_seconds < 0.05  # one copy of the buffer
    assert rewritten[-(16 << 20):] == data[-(16 << 20):]
    assert pb.ModelInferRequest.FromString(rewritten) == _with_model_name(request, CONCRETE)
