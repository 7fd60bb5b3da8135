"""What the rest-proxy codec's two directions share: its errors and the V2 datatype table."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import grpc
import numpy as np
import orjson

from ...errors import EmulatorError, InvalidArgumentError

__all__ = ["TYPES", "DatatypeSpec", "RestCodecError", "RestMarshalError", "element_count", "packed_contents"]


class RestCodecError(InvalidArgumentError):
    """A request body the rest-proxy rejects: INVALID_ARGUMENT, HTTP 400."""


class RestMarshalError(EmulatorError):
    """A runtime answer the rest-proxy cannot marshal: grpc-gateway reports UNKNOWN, HTTP 500."""

    grpc_code = grpc.StatusCode.UNKNOWN
    http_status = 500


class DatatypeSpec(NamedTuple):
    field: str  # InferTensorContents field
    go_type: str  # element type of that field in the Go proxy, as its errors name it
    allowed: frozenset[type]  # Python types orjson produces for acceptable JSON values
    low: float
    high: float
    raw: str  # numpy dtype of raw_output_contents


INTS, FLOATS, BOOLS = frozenset({int}), frozenset({int, float}), frozenset({bool})
I32_RANGE, I64_RANGE = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1)
U32_RANGE, U64_RANGE = (0, 2**32 - 1), (0, 2**64 - 1)
F32_MAX = float(np.finfo(np.float32).max)
TYPES: dict[str, DatatypeSpec] = {
    "BOOL": DatatypeSpec("bool_contents", "bool", BOOLS, 0, 1, "u1"),
    "INT8": DatatypeSpec("int_contents", "int32", INTS, *I32_RANGE, "<i1"),
    "INT16": DatatypeSpec("int_contents", "int32", INTS, *I32_RANGE, "<i2"),
    "INT32": DatatypeSpec("int_contents", "int32", INTS, *I32_RANGE, "<i4"),
    "INT64": DatatypeSpec("int64_contents", "int64", INTS, *I64_RANGE, "<i8"),
    "UINT8": DatatypeSpec("uint_contents", "uint32", INTS, *U32_RANGE, "u1"),
    "UINT16": DatatypeSpec("uint_contents", "uint32", INTS, *U32_RANGE, "<u2"),
    "UINT32": DatatypeSpec("uint_contents", "uint32", INTS, *U32_RANGE, "<u4"),
    "UINT64": DatatypeSpec("uint64_contents", "uint64", INTS, *U64_RANGE, "<u8"),
    "FP32": DatatypeSpec("fp32_contents", "float32", FLOATS, -F32_MAX, F32_MAX, "<f4"),
    "FP64": DatatypeSpec("fp64_contents", "float64", FLOATS, -math.inf, math.inf, "<f8"),
    "BYTES": DatatypeSpec("bytes_contents", "[]uint8", frozenset({str}), 0, 0, ""),
}
BASE64_NAMES = frozenset({"base64", "b64", "BASE64", "B64"})
NUMPY_OPTION = orjson.OPT_SERIALIZE_NUMPY


def element_count(shape: Iterable[int]) -> int:
    return math.prod(shape)


def packed_contents(contents: Any, spec: DatatypeSpec) -> np.ndarray:
    """A fixed-width repeated field as a numpy array, read from its packed wire bytes when possible."""
    fields = contents.ListFields()
    if len(fields) == 1 and fields[0][0].name == spec.field:
        wire = contents.SerializeToString()
        length, shift, pos = 0, 0, 1  # one tag byte: fields 6 and 7
        while True:
            byte = wire[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if pos + length == len(wire):
            return np.frombuffer(wire, spec.raw, offset=pos)
    return np.array(getattr(contents, spec.field), dtype=spec.raw)
