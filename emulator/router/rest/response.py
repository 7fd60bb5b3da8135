"""KServe V2 responses → JSON as rest-proxy marshals them: Go encoding/json of its RESTResponse; protojson metadata."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from ...v2_protos import dataplane_pb2 as pb
from .types import (
    NUMPY_OPTION,
    TYPES,
    RestMarshalError,
    element_count,
    packed_contents,
)

__all__ = ["infer_response_to_json", "model_metadata_to_json"]


_INTEGRAL = re.compile(rb"\.0(?=[,\]])")
_EXPONENT = re.compile(rb"-?[0-9.]+e[-+][0-9]+")
_HTML = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
         ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def _go_float(match: re.Match[bytes], single: bool) -> bytes:
    """Go's encoding/json form of one orjson exponent token: positional unless |x| < 1e-6 or ≥ 1e21."""
    token = match.group()
    number: float | np.float32 = np.float32(float(token)) if single else float(token)
    magnitude = abs(number)
    if magnitude < 1e-6 or magnitude >= 1e21:
        return token
    return np.format_float_positional(number, unique=True, trim="-").encode()


def _float_json(values: np.ndarray) -> orjson.Fragment:
    finite = np.isfinite(values)
    if not finite.all():
        bad = float(values[int(np.argmin(finite))])
        text = "NaN" if math.isnan(bad) else "+Inf" if bad > 0 else "-Inf"
        raise RestMarshalError(f"json: unsupported value: {text}")
    text = _INTEGRAL.sub(b"", orjson.dumps(values, option=NUMPY_OPTION))
    if b"e" in text:
        single = values.dtype.itemsize == 4
        text = _EXPONENT.sub(lambda match: _go_float(match, single), text)
    return orjson.Fragment(text)


def _split_raw_bytes(raw: bytes, count: int) -> list[str]:
    strings: list[str] = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(raw):
            raise RestMarshalError("unexpected end of raw tensor bytes")
        end = pos + 4 + int.from_bytes(raw[pos:pos + 4], "little")
        if end > len(raw):
            raise RestMarshalError("unexpected end of raw tensor bytes")
        strings.append(base64.b64encode(raw[pos + 4:end]).decode())
        pos = end
    if pos < len(raw):
        raise RestMarshalError("more raw tensor bytes than expected")
    return strings


def _raw_data(raw: Any, index: int, name: str, datatype: str, shape: Iterable[int]) -> Any:
    if index >= len(raw):
        raise RestMarshalError(f"no raw_output_contents for output {index} ({name})")
    blob, count = raw[index], element_count(shape)
    if datatype == "BYTES":
        return _split_raw_bytes(blob, count)
    spec = TYPES[datatype]
    size = count * np.dtype(spec.raw).itemsize
    if count < 0 or len(blob) < size:
        raise RestMarshalError(f"raw output {name}: {len(blob)} bytes, shape needs {size}")
    values = np.frombuffer(blob, spec.raw, count)
    if datatype == "BOOL":
        return values != 0
    if datatype == "UINT8":
        return base64.b64encode(values.tobytes()).decode()  # Go encodes a []uint8 as a base64 string
    return _float_json(values) if datatype in ("FP32", "FP64") else values


def _typed_data(output: Any, datatype: str) -> Any:
    spec = TYPES[datatype]
    values = getattr(output.contents, spec.field)
    if not values:
        return None  # Go marshals the nil slice as null
    if datatype == "BYTES":
        return [base64.b64encode(value).decode() for value in values]
    if datatype in ("FP32", "FP64"):
        return _float_json(packed_contents(output.contents, spec))
    return list(values)


def _parameters_json(params: Any) -> dict[str, Any]:
    out = {}
    for key in sorted(params):
        param = params[key]
        choice = param.WhichOneof("parameter_choice")
        out[key] = None if choice is None else getattr(param, choice)
    return out


def infer_response_to_json(resp: pb.ModelInferResponse) -> bytes:
    """The rest-proxy's JSON body for a ModelInferResponse."""
    doc: dict[str, Any] = {}
    for key in ("model_name", "model_version", "id"):
        if value := getattr(resp, key):
            doc[key] = value
    if params := _parameters_json(resp.parameters):
        doc["parameters"] = params
    raw = resp.raw_output_contents
    outputs = []
    for index, output in enumerate(resp.outputs):
        tensor: dict[str, Any] = {}
        name, datatype = output.name, output.datatype
        if name:
            tensor["name"] = name
        if datatype:
            tensor["datatype"] = datatype
        if output.shape:
            tensor["shape"] = list(output.shape)
        if datatype == "FP16":
            raise RestMarshalError(f"FP16 tensors not supported (request tensor {name})")
        params = _parameters_json(output.parameters)
        if datatype == "BYTES":
            params["content_type"] = "base64"
            params = dict(sorted(params.items()))
        if params:
            tensor["parameters"] = params
        if datatype not in TYPES:
            raise RestMarshalError(f"unsupported datatype in inference response outputs: {datatype}")
        tensor["data"] = (_raw_data(raw, index, name, datatype, output.shape) if raw
                          else _typed_data(output, datatype))
        outputs.append(tensor)
    if outputs:
        doc["outputs"] = outputs
    text = orjson.dumps(doc, option=NUMPY_OPTION)
    for char, escaped in _HTML:  # Go's encoding/json HTML-escapes; these bytes occur only inside strings
        if char in text:
            text = text.replace(char, escaped)
    return text


def _tensor_metadata(tensor: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if tensor.name:
        out["name"] = tensor.name
    if tensor.datatype:
        out["datatype"] = tensor.datatype
    if tensor.shape:
        out["shape"] = [str(dim) for dim in tensor.shape]  # protojson writes int64 as strings
    return out


def model_metadata_to_json(resp: pb.ModelMetadataResponse) -> bytes:
    """The rest-proxy's JSON body for a ModelMetadataResponse (fields its proto lacks are dropped)."""
    doc: dict[str, Any] = {}
    if resp.name:
        doc["name"] = resp.name
    if resp.versions:
        doc["versions"] = list(resp.versions)
    if resp.platform:
        doc["platform"] = resp.platform
    for key in ("inputs", "outputs"):
        if tensors := [_tensor_metadata(t) for t in getattr(resp, key)]:
            doc[key] = tensors
    return orjson.dumps(doc)
