"""rest-proxy JSON ↔ V2 protobuf, checked against kserve/rest-proxy's own tests and Go behaviour."""

from __future__ import annotations

import base64
import json
import math
import re
import struct

import grpc
import numpy as np
import pytest
from mlserver.grpc import dataplane_pb2 as pb

from emulator.errors import InvalidArgumentError
from emulator.router.rest.codec import (
    RestCodecError,
    RestMarshalError,
    infer_request_from_json,
    infer_response_to_json,
    model_metadata_to_json,
)
from emulator.router.rest.request import MAX_DATA_NESTING
from emulator.router.status_map import GRPC_TO_HTTP, error_body, http_status

DIGIT = [0.0, 0.0, 1.0, 11.0, 14.0, 15.0, 3.0, 0.0, 0.0, 1.0, 13.0, 16.0, 12.0, 16.0, 8.0, 0.0,
         0.0, 8.0, 16.0, 4.0, 6.0, 16.0, 5.0, 0.0, 0.0, 5.0, 15.0, 11.0, 13.0, 14.0, 0.0, 0.0,
         0.0, 0.0, 2.0, 12.0, 16.0, 13.0, 0.0, 0.0, 0.0, 0.0, 0.0, 13.0, 16.0, 16.0, 6.0, 0.0,
         0.0, 0.0, 0.0, 16.0, 16.0, 16.0, 7.0, 0.0, 0.0, 0.0, 0.0, 11.0, 13.0, 12.0, 1.0, 0.0]


def _body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _one_input(datatype: str, shape: list[int], data: object, **extra: object) -> pb.ModelInferRequest:
    tensor = {"name": "x", "datatype": datatype, "shape": shape, "data": data, **extra}
    return infer_request_from_json("m", None, _body(inputs=[tensor]))


def _codec_error(datatype: str, shape: list[int], data: object, **extra: object) -> str:
    with pytest.raises(RestCodecError) as caught:
        _one_input(datatype, shape, data, **extra)
    return caught.value.message


# ------------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("datatype", "data", "field", "expected"),
    [
        ("BOOL", [True, False, True], "bool_contents", [True, False, True]),
        ("INT8", [-128, 127, 0], "int_contents", [-128, 127, 0]),
        ("INT16", [-300, 300, 1], "int_contents", [-300, 300, 1]),
        ("INT32", [-(2**31), 2**31 - 1, 5], "int_contents", [-(2**31), 2**31 - 1, 5]),
        ("INT64", [-(2**63), 2**63 - 1, 5], "int64_contents", [-(2**63), 2**63 - 1, 5]),
        ("UINT8", [0, 255, 7], "uint_contents", [0, 255, 7]),
        ("UINT16", [0, 65535, 7], "uint_contents", [0, 65535, 7]),
        ("UINT32", [0, 2**32 - 1, 7], "uint_contents", [0, 2**32 - 1, 7]),
        ("UINT64", [0, 2**64 - 1, 7], "uint64_contents", [0, 2**64 - 1, 7]),
        ("FP32", [0.5, -2, 3.25], "fp32_contents", [0.5, -2.0, 3.25]),
        ("FP64", [0.1, -2, 1e300], "fp64_contents", [0.1, -2.0, 1e300]),
        ("BYTES", ["héllo", "", "x"], "bytes_contents", ["héllo".encode(), b"", b"x"]),
    ],
)
def test_data_goes_into_the_typed_contents_field(datatype: str, data: list[object], field: str,
                                                 expected: list[object]) -> None:
    request = _one_input(datatype, [3], data)
    tensor = request.inputs[0]
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("x", datatype, [3])
    assert list(getattr(tensor.contents, field)) == expected
    assert [f.name for f, _ in tensor.contents.ListFields()] == [field]


def test_request_test_example_from_rest_proxy() -> None:
    """proxy/request_test.go TestRESTRequest: the same proto for 1-D, 2-D, 3-D and 4-D data."""
    flat = DIGIT * 2
    cases = [
        ([2, 64], flat),
        ([2, 64], [DIGIT, DIGIT]),
        ([2, 2, 32], [[DIGIT[:32], DIGIT[32:]]] * 2),
        ([2, 2, 2, 16], [[[DIGIT[:16], DIGIT[16:32]], [DIGIT[32:48], DIGIT[48:]]]] * 2),
    ]
    for shape, data in cases:
        body = _body(id="foo", parameters={"top_level": "foo", "bool_param": False}, inputs=[{
            "name": "predict", "shape": shape, "datatype": "FP32", "data": data,
            "parameters": {"content_type": "str", "headers": None, "int_param": 42, "bool_param": True}}])
        expected = pb.ModelInferRequest(model_name="mnist", id="foo")
        expected.parameters["top_level"].string_param = "foo"
        expected.parameters["bool_param"].bool_param = False
        tensor = expected.inputs.add(name="predict", datatype="FP32", shape=shape)
        tensor.parameters["content_type"].string_param = "str"
        tensor.parameters["headers"].SetInParent()
        tensor.parameters["int_param"].int64_param = 42
        tensor.parameters["bool_param"].bool_param = True
        tensor.contents.fp32_contents.extend(flat)
        assert infer_request_from_json("mnist", None, body) == expected


def test_path_model_name_and_version_win_over_the_body() -> None:
    body = _body(model_name="other", model_version="9", inputs=[])
    request = infer_request_from_json("mnist-svm", "2", body)
    assert (request.model_name, request.model_version) == ("mnist-svm", "2")
    assert infer_request_from_json("mnist-svm", None, body).model_version == ""


def test_requested_outputs() -> None:
    body = _body(inputs=[], outputs=[{"name": "predict"}, {"name": "proba", "parameters": {"p": {}}}])
    request = infer_request_from_json("m", None, body)
    assert [o.name for o in request.outputs] == ["predict", "proba"]
    assert "p" in request.outputs[1].parameters


def test_requested_output_parameters_must_be_objects_as_in_go() -> None:
    body = _body(inputs=[], outputs=[{"name": "predict", "parameters": {"binary_data": False}}])
    with pytest.raises(RestCodecError, match=r"cannot unmarshal bool into Go struct field .*InferParameter"):
        infer_request_from_json("m", None, body)


def test_parameters_map_like_rest_proxy() -> None:
    params_in = {"s": "v", "b": True, "i": 7, "f": 2.9, "neg": -2.9, "n": None, "arr": [1], "o": {}}
    body = _body(parameters=params_in, inputs=[])
    params = infer_request_from_json("m", None, body).parameters
    assert params["s"].string_param == "v"
    assert params["b"].bool_param is True
    assert params["i"].int64_param == 7
    assert params["f"].int64_param == 2  # rest-proxy truncates numbers to int64 (its proto has no double)
    assert params["neg"].int64_param == -2
    assert params["n"].WhichOneof("parameter_choice") is None
    assert "arr" not in params and "o" not in params


def test_nested_data_bracket_count_must_fit_the_shape() -> None:
    message = "invalid tensor data: invalid nested json arrays"
    assert _codec_error("FP32", [2, 3], [[1, 2, 3]]) == message
    assert _codec_error("INT64", [2, 2], [[1, 2], [[3], [4]]]) == message


def test_nested_data_with_one_dimensional_shape_is_a_type_error() -> None:
    message = "json: cannot unmarshal array into Go value of type float32"
    assert _codec_error("FP32", [3], [[1, 2, 3]]) == message


def _nested(depth: int, leaf: str) -> str:
    """JSON text of `leaf` inside `depth` arrays (written out: json.dumps itself recurses)."""
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("datatype", ["FP32", "INT64", "BYTES"])
@pytest.mark.parametrize("regular", [True, False], ids=["regular", "irregular"])
def test_data_nested_past_the_bound_is_refused_by_name_not_by_a_recursion_error(datatype: str, regular: bool) -> None:
    leaf = '"YQ=="' if datatype == "BYTES" else "1"
    too_deep = 1000  # the depth that reached Python's recursion limit: a plain-text 500 before
    data = _nested(too_deep, leaf) if regular else f"[{_nested(too_deep, leaf)},{leaf}]"
    shape = [1] * (too_deep if datatype != "BYTES" else too_deep - 1)
    body = f'{{"inputs":[{{"name":"x","datatype":"{datatype}","shape":{shape},"data":{data}}}]}}'

    with pytest.raises(RestCodecError) as caught:
        infer_request_from_json("m", None, body.encode())

    assert caught.value.message == \
        f"invalid tensor data: exceeded max depth: arrays nested more than {MAX_DATA_NESTING} deep"


def test_data_nested_as_deep_as_the_bound_is_accepted() -> None:
    body = f'{{"inputs":[{{"name":"x","datatype":"INT64","shape":{[1] * MAX_DATA_NESTING},' \
           f'"data":{_nested(MAX_DATA_NESTING, "7")}}}]}}'
    request = infer_request_from_json("m", None, body.encode())
    assert list(request.inputs[0].contents.int64_contents) == [7]


def test_element_count_is_left_to_the_runtime_like_rest_proxy() -> None:
    request = _one_input("FP32", [1, 65], DIGIT)
    assert list(request.inputs[0].shape) == [1, 65]
    assert len(request.inputs[0].contents.fp32_contents) == 64


def test_irregular_nesting_with_the_right_bracket_count_is_flattened() -> None:
    request = _one_input("INT32", [2, 2], [[1], [2, 3, 4]])
    assert list(request.inputs[0].contents.int_contents) == [1, 2, 3, 4]


def test_data_must_be_an_array_for_multi_dimensional_shapes() -> None:
    assert _codec_error("FP32", [1, 2], 5) == "invalid tensor data: not a json array"
    assert _codec_error("FP32", [2], 5) == "json: cannot unmarshal number into Go value of type []float32"


def test_missing_and_null_data_give_empty_contents() -> None:
    body = _body(inputs=[{"name": "x", "datatype": "FP32", "shape": [0]}])
    request = infer_request_from_json("m", None, body)
    assert request.inputs[0].HasField("contents")
    assert len(request.inputs[0].contents.fp32_contents) == 0
    assert len(_one_input("INT64", [2], None).inputs[0].contents.int64_contents) == 0


def test_null_elements_become_zero_like_go() -> None:
    assert list(_one_input("FP64", [2], [None, 1.5]).inputs[0].contents.fp64_contents) == [0.0, 1.5]


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("FP32", [1, "2"], "json: cannot unmarshal string into Go value of type float32"),
        ("FP32", [True], "json: cannot unmarshal bool into Go value of type float32"),
        ("FP32", [1e39], "json: cannot unmarshal number 1e+39 into Go value of type float32"),
        ("INT32", [1.5], "json: cannot unmarshal number 1.5 into Go value of type int32"),
        ("INT32", [2**31], "json: cannot unmarshal number 2147483648 into Go value of type int32"),
        ("INT8", [True], "json: cannot unmarshal bool into Go value of type int32"),
        ("UINT8", [-1], "json: cannot unmarshal number -1 into Go value of type uint32"),
        ("INT64", [{"a": 1}], "json: cannot unmarshal object into Go value of type int64"),
        ("BOOL", [1], "json: cannot unmarshal number into Go value of type bool"),
    ],
)
def test_element_type_errors_read_like_go(datatype: str, data: list[object], message: str) -> None:
    assert _codec_error(datatype, [len(data)], data) == message


def test_fp16_and_unknown_datatypes_are_rejected() -> None:
    assert _codec_error("FP16", [1], [1.0]) == "FP16 tensors not supported (response tensor x)"
    assert _codec_error("INT322", [1], [1]) == "unsupported datatype: INT322"
    assert _codec_error("", [1], [1]) == "unsupported datatype: "


def test_meta_type_errors() -> None:
    assert "Go struct field InputTensorMeta.shape of type int64" in _codec_error("FP32", [2.0], [1, 2])
    assert "Go struct field InputTensorMeta.shape of type []int64" in _codec_error("FP32", "2", [1, 2])
    with pytest.raises(RestCodecError, match=r"RESTRequest\.inputs"):
        infer_request_from_json("m", None, _body(inputs={"name": "x"}))
    with pytest.raises(RestCodecError, match=r"RESTRequest\.id of type string"):
        infer_request_from_json("m", None, _body(id=5, inputs=[]))
    with pytest.raises(RestCodecError, match=r"into Go value of type main\.RESTRequest"):
        infer_request_from_json("m", None, b"[1, 2]")


@pytest.mark.parametrize(("body", "message"), [
    (b'{"inputs": [', "unexpected EOF"),
    (b'{"inputs" 1}', "invalid character '1'"),
    (b"{'inputs': []}", "invalid character"),
    (b'{"inputs": [{"datatype": "FP32", "shape": [1], "data": [NaN]}]}', "invalid character 'N'"),
    (b'{"inputs": [{"datatype": "FP64", "shape": [1], "data": [1e400]}]}', "number 1e400"),
])
def test_bad_json_is_a_codec_error(body: bytes, message: str) -> None:
    with pytest.raises(RestCodecError, match=message) as caught:
        infer_request_from_json("m", None, body)
    assert isinstance(caught.value, InvalidArgumentError)
    assert caught.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.http_status == 400


def test_what_go_json_decoder_tolerates() -> None:
    assert infer_request_from_json("m", None, b"") == pb.ModelInferRequest(model_name="m")  # io.EOF
    assert infer_request_from_json("m", None, b"  \n") == pb.ModelInferRequest(model_name="m")
    assert infer_request_from_json("m", None, b"null") == pb.ModelInferRequest(model_name="m")
    trailing = infer_request_from_json("m", None, b'{"id": "a"} trailing')
    assert trailing.id == "a"
    invalid_utf8 = infer_request_from_json("m", None, b'{"id": "a\xff"}')
    assert invalid_utf8.id == "a\ufffd"


def test_missing_inputs_are_forwarded_like_rest_proxy() -> None:
    request = infer_request_from_json("m", None, b'{"id": "x"}')
    assert request == pb.ModelInferRequest(model_name="m", id="x")


@pytest.mark.parametrize(
    ("shape", "data", "parameters", "expected"),
    [  # proxy/request_test.go bytesTensorCases
        ([2], ["My UTF8 String", "Another string"], None, [b"My UTF8 String", b"Another string"]),
        ([1], [[77, 121, 32, 85, 84, 70, 56, 32, 83, 116, 114, 105, 110, 103]], None, [b"My UTF8 String"]),
        ([2, 1], [["String1"], ["String2"]], None, [b"String1", b"String2"]),
        ([2, 1], ["String1", "String2"], {"content_type": "str"}, [b"String1", b"String2"]),
        ([2, 1], [[[83, 116, 114, 105, 110, 103, 32, 49]], [[83, 116, 114, 105, 110, 103, 32, 50]]], None,
         [b"String 1", b"String 2"]),
        ([2, 1], ["TXkgVVRGOCBTdHJpbmc=", "QW5vdGhlciBzdHJpbmc="], {"content_type": "base64"},
         [b"My UTF8 String", b"Another string"]),
    ],
)
def test_bytes_cases_from_rest_proxy(shape: list[int], data: object, parameters: dict[str, str] | None,
                                     expected: list[bytes]) -> None:
    extra = {"parameters": parameters} if parameters else {}
    tensor = _one_input("BYTES", shape, data, **extra).inputs[0]
    assert list(tensor.contents.bytes_contents) == expected
    if parameters:
        assert {k: v.string_param for k, v in tensor.parameters.items()} == parameters


@pytest.mark.parametrize(
    ("shape", "data", "message"),
    [
        ([1], [], "invalid tensor data: must be an array of byte arrays"),
        ([1], "abc", "invalid tensor data: not a json array"),
        ([1], ["a", "b"], "more strings than expected for tensor shape"),
        ([2], ["a", 1], "tensor data must be a flat or nested json array of strings"),
        ([2, 1, 1], [["a"], ["b"]], "data array nesting does not match tensor shape"),
        ([2, 1, 1], [[[1], [2]]], "invalid tensor data: array nesting does not match tensor shape"),
        ([2], [[1, 300]], "json: cannot unmarshal number 300 into Go value of type uint8"),
    ],
)
def test_bytes_errors(shape: list[int], data: object, message: str) -> None:
    assert _codec_error("BYTES", shape, data) == message


def test_bytes_bad_base64() -> None:
    message = _codec_error("BYTES", [1], ["not base64!"], parameters={"content_type": "b64"})
    assert message.startswith("error decoding json string as base64")


# ------------------------------------------------------------------------------------------ responses


def _example_response() -> pb.ModelInferResponse:
    """proxy/marshaler_test.go generateProtoBufResponse (its parameters), without outputs."""
    response = pb.ModelInferResponse(model_name="example", id="foo")
    response.parameters["content_type"].string_param = "bar"
    response.parameters["headers"].SetInParent()
    response.parameters["int_param"].int64_param = 12345
    response.parameters["bool_param"].bool_param = False
    return response


EXAMPLE_HEAD = ('{"model_name":"example","id":"foo","parameters":'
                '{"bool_param":false,"content_type":"bar","headers":null,"int_param":12345},')
BYTES_OUTPUT = ('"outputs":[{"name":"predict","datatype":"BYTES","shape":[2,2],'
                '"parameters":{"content_type":"base64"},"data":["U3RyaW5nMQ==","U3RyaW5nMg==","U3RyaW5nMw==","U3RyaW5nNA=="]}]}')
STRINGS = [b"String1", b"String2", b"String3", b"String4"]


def test_marshaler_test_response() -> None:
    response = _example_response()
    response.outputs.add(name="predict", datatype="INT64", shape=[2]).contents.int64_contents.extend([8, 8])
    expected = EXAMPLE_HEAD + '"outputs":[{"name":"predict","datatype":"INT64","shape":[2],"data":[8,8]}]}'
    assert infer_response_to_json(response).decode() == expected


def test_marshaler_test_bytes_response() -> None:
    response = _example_response()
    tensor = response.outputs.add(name="predict", datatype="BYTES", shape=[2, 2])
    tensor.contents.bytes_contents.extend(STRINGS)
    assert infer_response_to_json(response).decode() == EXAMPLE_HEAD + BYTES_OUTPUT


def test_marshaler_test_bytes_raw_output() -> None:
    response = _example_response()
    response.outputs.add(name="predict", datatype="BYTES", shape=[2, 2])
    response.raw_output_contents.append(b"".join(struct.pack("<I", len(s)) + s for s in STRINGS))
    assert infer_response_to_json(response).decode() == EXAMPLE_HEAD + BYTES_OUTPUT


def test_marshaler_test_raw_output() -> None:
    response = pb.ModelInferResponse(model_name="example", id="foo")
    response.outputs.add(name="predict", datatype="INT64", shape=[1, 1])
    response.raw_output_contents.append(struct.pack("<q", 7))
    expected = ('{"model_name":"example","id":"foo",'
                '"outputs":[{"name":"predict","datatype":"INT64","shape":[1,1],"data":[7]}]}')
    assert infer_response_to_json(response).decode() == expected


def test_modelmesh_docs_example_fp32_prints_like_go() -> None:
    response = pb.ModelInferResponse(model_name="example-mnist-isvc__ksp-7702c1b55a")
    response.outputs.add(name="predict", datatype="FP32", shape=[1, 1]).contents.fp32_contents.append(8)
    assert infer_response_to_json(response).decode() == (
        '{"model_name":"example-mnist-isvc__ksp-7702c1b55a",'
        '"outputs":[{"name":"predict","datatype":"FP32","shape":[1,1],"data":[8]}]}')


def _data(response: pb.ModelInferResponse) -> object:
    return json.loads(infer_response_to_json(response))["outputs"][0]["data"]


def _raw_response(datatype: str, shape: list[int], raw: bytes) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name="m")
    response.outputs.add(name="out", datatype=datatype, shape=shape)
    response.raw_output_contents.append(raw)
    return response


@pytest.mark.parametrize(
    ("datatype", "values", "expected"),
    [
        ("FP32", np.array([0.5, -1.25, 8.0], "<f4"), [0.5, -1.25, 8]),
        ("FP64", np.array([0.1, -2.0, 1e300], "<f8"), [0.1, -2, 1e300]),
        ("INT64", np.array([-(2**63), 2**63 - 1, 0], "<i8"), [-(2**63), 2**63 - 1, 0]),
        ("INT32", np.array([-5, 7, 0], "<i4"), [-5, 7, 0]),
        ("INT16", np.array([-5, 7, 0], "<i2"), [-5, 7, 0]),
        ("INT8", np.array([-5, 7, 0], "<i1"), [-5, 7, 0]),
        ("UINT16", np.array([65535, 7, 0], "<u2"), [65535, 7, 0]),
        ("UINT32", np.array([2**32 - 1, 7, 0], "<u4"), [2**32 - 1, 7, 0]),
        ("UINT64", np.array([2**64 - 1, 7, 0], "<u8"), [2**64 - 1, 7, 0]),
        ("BOOL", np.array([1, 0, 2], "u1"), [True, False, True]),
    ],
)
def test_raw_outputs_are_decoded_little_endian(datatype: str, values: np.ndarray,
                                               expected: list[object]) -> None:
    assert _data(_raw_response(datatype, [3], values.tobytes())) == expected


def test_raw_outputs_use_the_shape_and_ignore_extra_bytes_like_go() -> None:
    raw = np.arange(6, dtype="<f4").tobytes() + b"\x00" * 3
    assert _data(_raw_response("FP32", [2, 3], raw)) == [0, 1, 2, 3, 4, 5]


def test_raw_uint8_is_a_base64_string_like_go_byte_slices() -> None:
    assert _data(_raw_response("UINT8", [3], b"\x01\x02\xff")) == base64.b64encode(b"\x01\x02\xff").decode()


def test_raw_output_errors() -> None:
    with pytest.raises(RestMarshalError, match="shape needs 12"):
        infer_response_to_json(_raw_response("FP32", [3], b"\x00" * 8))
    with pytest.raises(RestMarshalError, match="more raw tensor bytes than expected"):
        infer_response_to_json(_raw_response("BYTES", [1], b"\x01\x00\x00\x00ab"))
    with pytest.raises(RestMarshalError, match="unexpected end of raw tensor bytes"):
        infer_response_to_json(_raw_response("BYTES", [2], b"\x01\x00\x00\x00a"))
    two_outputs = _raw_response("FP32", [1], b"\x00" * 4)
    two_outputs.outputs.add(name="second", datatype="FP32", shape=[1])
    with pytest.raises(RestMarshalError, match="second"):
        infer_response_to_json(two_outputs)


@pytest.mark.parametrize(
    ("datatype", "values", "text"),
    [
        ("FP32", [0.1, 8.0, -0.0, 123456789.0], "[0.1,8,-0,123456790]"),
        ("FP32", [1e-7, 1.5e15, 1e21, 3.4e38], "[1e-7,1500000000000000,1e+21,3.4e+38]"),
        ("FP64", [0.1, 1e-6, 1e-7, 1e16, 1e20, 1e21, 5e-324], "[0.1,0.000001,1e-7,10000000000000000,"
                                                              "100000000000000000000,1e+21,5e-324]"),
    ],
)
def test_floats_are_written_like_go_encoding_json(datatype: str, values: list[float], text: str) -> None:
    response = pb.ModelInferResponse()
    tensor = response.outputs.add(name="o", datatype=datatype, shape=[len(values)])
    getattr(tensor.contents, "fp32_contents" if datatype == "FP32" else "fp64_contents").extend(values)
    assert infer_response_to_json(response).decode().endswith(f'"data":{text}}}]}}')


@pytest.mark.parametrize(("value", "text"), [(math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf")])
def test_non_finite_floats_fail_like_go(value: float, text: str) -> None:
    response = pb.ModelInferResponse()
    response.outputs.add(name="o", datatype="FP64", shape=[1]).contents.fp64_contents.append(value)
    with pytest.raises(RestMarshalError, match=re.escape(f"json: unsupported value: {text}") + "$") as caught:
        infer_response_to_json(response)
    assert caught.value.grpc_code == grpc.StatusCode.UNKNOWN
    assert caught.value.http_status == 500


def test_fp16_and_unknown_output_datatypes_fail() -> None:
    response = pb.ModelInferResponse()
    response.outputs.add(name="half", datatype="FP16", shape=[1])
    with pytest.raises(RestMarshalError, match=r"FP16 tensors not supported \(request tensor half\)"):
        infer_response_to_json(response)
    response.outputs[0].datatype = "INT4"
    with pytest.raises(RestMarshalError, match="unsupported datatype in inference response outputs: INT4"):
        infer_response_to_json(response)


@pytest.mark.parametrize(
    ("datatype", "field", "values"),
    [("BOOL", "bool_contents", [True, False]), ("INT8", "int_contents", [-1, 2]),
     ("UINT16", "uint_contents", [1, 2]), ("UINT64", "uint64_contents", [2**64 - 1, 0]),
     ("INT64", "int64_contents", [-(2**63), 3])],
)
def test_typed_outputs(datatype: str, field: str, values: list[object]) -> None:
    response = pb.ModelInferResponse()
    getattr(response.outputs.add(name="o", datatype=datatype, shape=[2]).contents, field).extend(values)
    assert _data(response) == values


def test_empty_typed_data_is_null_and_empty_fields_are_omitted() -> None:
    response = pb.ModelInferResponse(model_name="m")
    response.outputs.add(name="o", datatype="FP32")
    expected = b'{"model_name":"m","outputs":[{"name":"o","datatype":"FP32","data":null}]}'
    assert infer_response_to_json(response) == expected
    assert infer_response_to_json(pb.ModelInferResponse()) == b"{}"


def test_model_version_and_output_parameters_sorted() -> None:
    response = pb.ModelInferResponse(model_name="m", model_version="v2", id="i")
    tensor = response.outputs.add(name="o", datatype="BYTES", shape=[1])
    tensor.parameters["z"].int64_param = 1
    tensor.parameters["content_type"].string_param = "str"
    tensor.parameters["a"].bool_param = True
    tensor.contents.bytes_contents.append(b"\xff\x00")
    assert json.loads(infer_response_to_json(response)) == {
        "model_name": "m", "model_version": "v2", "id": "i",
        "outputs": [{"name": "o", "datatype": "BYTES", "shape": [1],
                     "parameters": {"a": True, "content_type": "base64", "z": 1}, "data": ["/wA="]}]}
    assert b'"parameters":{"a":true,"content_type":"base64","z":1}' in infer_response_to_json(response)


def test_html_characters_are_escaped_like_go() -> None:
    response = pb.ModelInferResponse(model_name="a<b>&c\u2028")
    assert infer_response_to_json(response) == b'{"model_name":"a\\u003cb\\u003e\\u0026c\\u2028"}'
    assert json.loads(infer_response_to_json(response))["model_name"] == "a<b>&c\u2028"


def test_large_typed_fp32_output_matches_raw() -> None:
    values = np.random.default_rng(0).random(100_000, dtype=np.float32)
    typed = pb.ModelInferResponse()
    tensor = typed.outputs.add(name="out", datatype="FP32", shape=[100_000])
    tensor.contents.fp32_contents.extend(values.tolist())
    raw = _raw_response("FP32", [100_000], values.tobytes())
    typed.model_name = raw.model_name
    assert infer_response_to_json(typed) == infer_response_to_json(raw)
    assert np.array_equal(np.array(_data(typed), "f4"), values)


# ------------------------------------------------------------------------------------------- metadata


def test_model_metadata_json() -> None:
    response = pb.ModelMetadataResponse(name="mnist-svm__isvc-5c6f3ab55b", versions=["1"], platform="sklearn")
    response.inputs.add(name="predict", datatype="FP32", shape=[-1, 64])
    response.outputs.add(name="predict", datatype="INT64", shape=[-1])
    response.outputs.add()
    response.parameters["content_type"].string_param = "np"  # not in rest-proxy's proto: dropped
    assert model_metadata_to_json(response) == (
        b'{"name":"mnist-svm__isvc-5c6f3ab55b","versions":["1"],"platform":"sklearn",'
        b'"inputs":[{"name":"predict","datatype":"FP32","shape":["-1","64"]}],'
        b'"outputs":[{"name":"predict","datatype":"INT64","shape":["-1"]},{}]}')


def test_model_metadata_json_omits_empty_fields() -> None:
    assert model_metadata_to_json(pb.ModelMetadataResponse(name="m")) == b'{"name":"m"}'
    assert model_metadata_to_json(pb.ModelMetadataResponse()) == b"{}"


# ----------------------------------------------------------------------------------------- status map


@pytest.mark.parametrize(
    ("code", "status"),
    [("OK", 200), ("CANCELLED", 499), ("UNKNOWN", 500), ("INVALID_ARGUMENT", 400), ("DEADLINE_EXCEEDED", 504),
     ("NOT_FOUND", 404), ("ALREADY_EXISTS", 409), ("PERMISSION_DENIED", 403), ("UNAUTHENTICATED", 401),
     ("RESOURCE_EXHAUSTED", 429), ("FAILED_PRECONDITION", 400), ("ABORTED", 409), ("OUT_OF_RANGE", 400),
     ("UNIMPLEMENTED", 501), ("INTERNAL", 500), ("UNAVAILABLE", 503), ("DATA_LOSS", 500)],
)
def test_grpc_gateway_status_mapping(code: str, status: int) -> None:
    assert GRPC_TO_HTTP[grpc.StatusCode[code]] == status
    assert http_status(grpc.StatusCode[code]) == status


def test_status_map_covers_every_code() -> None:
    assert set(GRPC_TO_HTTP) == set(grpc.StatusCode)


def test_error_body_like_rest_proxy() -> None:
    message = ("inference.GRPCInferenceService/ModelInfer: UNKNOWN: "
               "Unexpected <class 'NotImplementedError'>: predict() method not implemented")
    assert error_body(grpc.StatusCode.UNKNOWN, message) == {"code": 2, "message": message}
    assert error_body(grpc.StatusCode.NOT_FOUND, "Not Found") == {"code": 5, "message": "Not Found"}
    assert error_body(grpc.StatusCode.INTERNAL, "") == {"code": 13}
