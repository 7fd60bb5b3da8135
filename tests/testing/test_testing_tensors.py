"""emulator.testing's NumPy ↔ KServe V2 conversion, checked against MLServer's own codecs."""

from __future__ import annotations

import numpy as np
import pytest
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.types import InferenceResponse

from emulator.testing.tensors import from_json_output, from_proto_outputs, to_array, to_json_input, to_proto_inputs

ARRAYS = [
    np.array([[True, False]]),
    np.array([[-1, 2, 3]], dtype=np.int8),
    np.array([[1, 2], [3, 4]], dtype=np.int32),
    np.array([2**40], dtype=np.int64),
    np.array([[7]], dtype=np.uint16),
    np.array([2**63], dtype=np.uint64),
    np.array([[0.5, 1.5]], dtype=np.float32),
    np.array([[0.25]], dtype=np.float64),
    np.array([[0.5, -2.0]], dtype=np.float16),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: str(a.dtype))
def test_mlserver_decodes_what_the_client_encodes(array: np.ndarray) -> None:
    request = pb.ModelInferRequest(model_name="m")
    to_proto_inputs(request, {"x": to_array(array)})

    decoded = NumpyCodec.decode_input(ModelInferRequestConverter.to_types(request).inputs[0])

    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize("use_raw", [False, True])
@pytest.mark.parametrize("array", ARRAYS[:-1], ids=lambda a: str(a.dtype))
def test_client_decodes_what_mlserver_encodes(array: np.ndarray, use_raw: bool) -> None:
    response = InferenceResponse(model_name="m", outputs=[NumpyCodec.encode_output("y", array)])

    outputs = from_proto_outputs(ModelInferResponseConverter.from_types(response, use_raw=use_raw))

    assert outputs["y"].dtype == array.dtype
    np.testing.assert_array_equal(outputs["y"].reshape(array.shape), array)


@pytest.mark.parametrize("use_raw", [False, True])
def test_strings_round_trip_as_bytes_and_come_back_as_str(use_raw: bool) -> None:
    request = pb.ModelInferRequest(model_name="m")
    to_proto_inputs(request, {"text": to_array(["héllo", b"world"]), "half": to_array([1.0], "FP16")}
                    if use_raw else {"text": to_array(["héllo", b"world"])})
    response = InferenceResponse(model_name="m", outputs=[StringCodec.encode_output("y", ["a", "bc"])])

    decoded = StringCodec.decode_input(ModelInferRequestConverter.to_types(request).inputs[0])
    outputs = from_proto_outputs(ModelInferResponseConverter.from_types(response, use_raw=use_raw))

    assert decoded == ["héllo", "world"]
    assert outputs["y"].ravel().tolist() == ["a", "bc"]


def test_datatype_is_inferred_or_given() -> None:
    assert to_array([1, 2])[1] == "INT64"
    assert to_array(1.0)[0].shape == (1,)
    assert to_array([[1, 2]], "fp32")[0].dtype == np.float32
    assert to_array(["a"])[1] == "BYTES"
    with pytest.raises(ValueError, match="unknown KServe V2 datatype 'FP8'"):
        to_array([1], "FP8")
    with pytest.raises(TypeError, match="no KServe V2 datatype for numpy dtype complex128"):
        to_array([1j])


def test_rest_json_round_trip() -> None:
    body = to_json_input("x", *to_array(np.array([[1, 2], [3, 4]], dtype=np.int32)))
    text = to_json_input("t", *to_array([b"a", "b"]))

    assert body == {"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [1, 2, 3, 4]}
    assert text["data"] == ["a", "b"]
    back = from_json_output({**body, "data": [[1, 2], [3, 4]]})
    assert back.dtype == np.int32 and back.tolist() == [[1, 2], [3, 4]]
