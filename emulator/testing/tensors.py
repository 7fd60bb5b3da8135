"""NumPy arrays ↔ KServe V2 tensors, for the gRPC protobuf messages and the REST JSON alike."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mlserver.grpc import dataplane_pb2

__all__ = ["DATATYPES", "datatype_of", "from_json_output", "from_proto_outputs", "proto_parameters", "to_array",
           "to_json_input", "to_proto_inputs"]

# V2 datatype → (numpy dtype, InferTensorContents field); FP16 has no typed field, only raw contents.
DATATYPES: dict[str, tuple[str, str | None]] = {
    "BOOL": ("bool", "bool_contents"),
    "INT8": ("int8", "int_contents"),
    "INT16": ("int16", "int_contents"),
    "INT32": ("int32", "int_contents"),
    "INT64": ("int64", "int64_contents"),
    "UINT8": ("uint8", "uint_contents"),
    "UINT16": ("uint16", "uint_contents"),
    "UINT32": ("uint32", "uint_contents"),
    "UINT64": ("uint64", "uint64_contents"),
    "FP16": ("float16", None),
    "FP32": ("float32", "fp32_contents"),
    "FP64": ("float64", "fp64_contents"),
    "BYTES": ("object", "bytes_contents"),
}
_BY_DTYPE = {np.dtype(dtype): name for name, (dtype, _) in DATATYPES.items() if name != "BYTES"}


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of an array: numeric dtypes map one to one, strings/bytes/objects are BYTES."""
    if array.dtype.kind in "USO":
        return "BYTES"
    try:
        return _BY_DTYPE[array.dtype]
    except KeyError:
        raise TypeError(f"no KServe V2 datatype for numpy dtype {array.dtype}") from None


def to_array(value: Any, datatype: str | None = None) -> tuple[np.ndarray, str]:
    """Plain Python or NumPy input → (array of at least one dimension, its V2 datatype)."""
    if datatype is None:
        array = np.atleast_1d(np.asarray(value))
        return array, datatype_of(array)
    datatype = datatype.upper()
    if datatype not in DATATYPES:
        raise ValueError(f"unknown KServe V2 datatype {datatype!r} (known: {', '.join(DATATYPES)})")
    if datatype == "BYTES":
        return np.atleast_1d(np.asarray(value, dtype=object)), datatype
    return np.atleast_1d(np.asarray(value, dtype=DATATYPES[datatype][0])), datatype


def _as_bytes(item: Any) -> bytes:
    return item.encode() if isinstance(item, str) else bytes(item)


def _raw(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(b)) + b for b in map(_as_bytes, array.ravel()))
    return np.ascontiguousarray(array, dtype=np.dtype(DATATYPES[datatype][0]).newbyteorder("<")).tobytes()


def _from_raw(raw: bytes, datatype: str) -> np.ndarray:
    if datatype != "BYTES":
        return np.frombuffer(raw, dtype=np.dtype(DATATYPES[datatype][0]).newbyteorder("<"))
    items, offset = [], 0
    while offset < len(raw):
        (size,) = struct.unpack_from("<I", raw, offset)
        items.append(raw[offset + 4:offset + 4 + size])
        offset += 4 + size
    return np.array(items, dtype=object)


def to_proto_inputs(request: dataplane_pb2.ModelInferRequest,
                    arrays: Mapping[str, tuple[np.ndarray, str]]) -> None:
    """Add the inputs to a ModelInferRequest: typed contents, or raw contents for all when one is FP16."""
    use_raw = any(datatype == "FP16" for _, datatype in arrays.values())
    for name, (array, datatype) in arrays.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
        if use_raw:
            request.raw_input_contents.append(_raw(array, datatype))
            continue
        field = DATATYPES[datatype][1]
        assert field is not None
        values = [_as_bytes(v) for v in array.ravel()] if datatype == "BYTES" else array.ravel().tolist()
        getattr(tensor.contents, field).extend(values)


def _decode_bytes(array: np.ndarray, parameters: Mapping[str, Any]) -> np.ndarray:
    if parameters.get("content_type") != "str":
        return array
    return np.array([v.decode() if isinstance(v, bytes) else v for v in array.ravel()],
                    dtype=object).reshape(array.shape)


def proto_parameters(parameters: Any) -> dict[str, Any]:
    """A protobuf `map<string, InferParameter>` as plain values."""
    return {key: getattr(value, value.WhichOneof("parameter_choice")) for key, value in parameters.items()
            if value.WhichOneof("parameter_choice")}


def from_proto_outputs(response: dataplane_pb2.ModelInferResponse) -> dict[str, np.ndarray]:
    """Each output of a ModelInferResponse as an array of its datatype and shape (raw or typed contents)."""
    outputs = {}
    for index, tensor in enumerate(response.outputs):
        dtype, field = DATATYPES.get(tensor.datatype, ("object", None))
        if response.raw_output_contents:
            flat = _from_raw(response.raw_output_contents[index], tensor.datatype)
        elif field is None:
            raise ValueError(f"output {tensor.name!r}: datatype {tensor.datatype} needs raw contents")
        else:
            flat = np.array(list(getattr(tensor.contents, field)), dtype=dtype)
        array = flat.reshape(tuple(tensor.shape))
        if tensor.datatype == "BYTES":
            array = _decode_bytes(array, proto_parameters(tensor.parameters))
        outputs[tensor.name] = array
    return outputs


def to_json_input(name: str, array: np.ndarray, datatype: str) -> dict[str, Any]:
    """One REST V2 input: flat row-major `data`; BYTES items as text."""
    if datatype == "BYTES":
        data: list[Any] = [v.decode() if isinstance(v, bytes) else str(v) for v in array.ravel()]
    else:
        data = array.ravel().tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def from_json_output(output: Mapping[str, Any]) -> np.ndarray:
    """One REST V2 output → array; BYTES stay as the JSON gave them (text)."""
    dtype = DATATYPES.get(output["datatype"], ("object", None))[0]
    data: Iterable[Any] | Sequence[Any] = output.get("data", [])
    return np.array(list(_flatten(data)), dtype=dtype).reshape(tuple(output["shape"]))


def _flatten(data: Iterable[Any]) -> Iterable[Any]:
    for item in data:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item
