"""JSON ↔ KServe V2 protobuf, the way ModelMesh's rest-proxy converts (kserve/rest-proxy proxy/*.go).

Requests: `data` goes into the typed `contents` field of the datatype; nested arrays are accepted when their
bracket count fits the shape (the element count is left to the runtime, as upstream); parameters become
bool / int64 (numbers truncated) / string InferParameters. Responses: Go encoding/json of rest-proxy's
RESTResponse (empty fields omitted, map keys sorted, floats in Go's shortest form, BYTES always base64 with
`content_type: base64`); `raw_output_contents` are decoded little-endian. Metadata: protojson with
EmitUnpopulated=false (int64 shapes as strings). Error texts follow the Go ones.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from itertools import chain
from typing import Any, NamedTuple

import grpc
import numpy as np
import orjson

from ..errors import EmulatorError, InvalidArgumentError
from ..v2_protos import dataplane_pb2 as pb

__all__ = [
    "RestCodecError",
    "RestMarshalError",
    "infer_request_from_json",
    "infer_response_to_json",
    "model_metadata_to_json",
]


class RestCodecError(InvalidArgumentError):
    """A request body the rest-proxy rejects: INVALID_ARGUMENT, HTTP 400."""


class RestMarshalError(EmulatorError):
    """A runtime answer the rest-proxy cannot marshal: grpc-gateway reports UNKNOWN, HTTP 500."""

    grpc_code = grpc.StatusCode.UNKNOWN
    http_status = 500


class _Type(NamedTuple):
    field: str  # InferTensorContents field
    go_type: str  # element type of that field in the Go proxy, as its errors name it
    allowed: frozenset[type]  # Python types orjson produces for acceptable JSON values
    low: float
    high: float
    raw: str  # numpy dtype of raw_output_contents


_INTS, _FLOATS, _BOOLS = frozenset({int}), frozenset({int, float}), frozenset({bool})
_I32, _I64, _U32, _U64 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1), (0, 2**32 - 1), (0, 2**64 - 1)
_F32_MAX = float(np.finfo(np.float32).max)
_TYPES: dict[str, _Type] = {
    "BOOL": _Type("bool_contents", "bool", _BOOLS, 0, 1, "u1"),
    "INT8": _Type("int_contents", "int32", _INTS, *_I32, "<i1"),
    "INT16": _Type("int_contents", "int32", _INTS, *_I32, "<i2"),
    "INT32": _Type("int_contents", "int32", _INTS, *_I32, "<i4"),
    "INT64": _Type("int64_contents", "int64", _INTS, *_I64, "<i8"),
    "UINT8": _Type("uint_contents", "uint32", _INTS, *_U32, "u1"),
    "UINT16": _Type("uint_contents", "uint32", _INTS, *_U32, "<u2"),
    "UINT32": _Type("uint_contents", "uint32", _INTS, *_U32, "<u4"),
    "UINT64": _Type("uint64_contents", "uint64", _INTS, *_U64, "<u8"),
    "FP32": _Type("fp32_contents", "float32", _FLOATS, -_F32_MAX, _F32_MAX, "<f4"),
    "FP64": _Type("fp64_contents", "float64", _FLOATS, -math.inf, math.inf, "<f8"),
    "BYTES": _Type("bytes_contents", "[]uint8", frozenset({str}), 0, 0, ""),
}
_BASE64_NAMES = frozenset({"base64", "b64", "BASE64", "B64"})
_NUMPY = orjson.OPT_SERIALIZE_NUMPY



def _kind(value: object) -> str:
    """The JSON kind of a decoded value, as Go's UnmarshalTypeError names it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_error(value: object, go_type: str, field: str | None = None) -> RestCodecError:
    where = f"Go struct field {field}" if field else "Go value"
    return RestCodecError(f"json: cannot unmarshal {_kind(value)} into {where} of type {go_type}")


def _number_error(value: float, go_type: str, field: str | None = None) -> RestCodecError:
    where = f"Go struct field {field}" if field else "Go value"
    return RestCodecError(f"json: cannot unmarshal number {value!r} into {where} of type {go_type}")




def _reject_constant(name: str) -> None:
    raise RestCodecError(f"invalid character '{name[0]}' looking for beginning of value")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise RestCodecError(f"json: cannot unmarshal number {literal} into Go value of type float64")
    return value


def _load(body: bytes) -> Any:
    """The first JSON value of the body (None when empty), as Go's json.Decoder reads it."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # Go also accepts what orjson refuses: trailing data, invalid UTF-8, an empty body (io.EOF → no fields).
    text = bytes(body).decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        return None
    decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
    try:
        return decoder.raw_decode(text, start)[0]
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip(" \t\r\n")):
            raise RestCodecError("unexpected EOF") from None
        raise RestCodecError(f"invalid character {text[exc.pos]!r} at offset {exc.pos}") from None
    except RecursionError:
        raise RestCodecError("exceeded max depth") from None


def _string(obj: dict[str, Any], key: str, field: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise _type_error(value, "string", field)
    return value


def _go_int64(value: float) -> int:
    """Go's int64(float64(v)): truncation, and amd64's MinInt64 when out of range."""
    number = float(value)
    return int(number) if -(2.0**63) <= number < 2.0**63 else -(2**63)


def _set_parameters(target: Any, params: Any) -> None:
    if params is None:
        return
    if type(params) is not dict:
        raise _type_error(params, "map[string]interface {}")
    for key, value in params.items():
        kind = type(value)
        if kind is str:
            target.get_or_create(key).string_param = value
        elif kind is bool:
            target.get_or_create(key).bool_param = value
        elif kind is int or kind is float:
            target.get_or_create(key).int64_param = _go_int64(value)
        elif value is None:
            target.get_or_create(key)
        # arrays and objects are dropped (rest-proxy logs "unsupported type" and carries on)


def _shape(value: Any) -> list[int]:
    if value is None:
        return []
    if type(value) is not list:
        raise _type_error(value, "[]int64", "InputTensorMeta.shape")
    dims = []
    for dim in value:
        if dim is None:
            dim = 0
        elif type(dim) is float or (type(dim) is int and not _I64[0] <= dim <= _I64[1]):
            raise _number_error(dim, "int64", "InputTensorMeta.shape")
        elif type(dim) is not int:
            raise _type_error(dim, "int64", "InputTensorMeta.shape")
        dims.append(dim)
    return dims


def _bracket_count(shape: list[int]) -> int:
    count = product = 1
    for dim in shape[:-1]:
        product *= dim
        count += product
    return count


def _element_count(shape: Iterable[int]) -> int:
    return math.prod(shape)


def _flatten_any(data: list[Any], out: list[Any]) -> int:
    """Leaves of arbitrarily nested lists into `out`; returns how many lists there were."""
    lists = 1
    for item in data:
        if type(item) is list:
            lists += _flatten_any(item, out)
        else:
            out.append(item)
    return lists


def _nested_leaves(data: list[Any]) -> tuple[list[Any], int, set[type]]:
    """Go strips every bracket of nested data: the leaves, the number of arrays and the leaf types."""
    lists, level = 1, data
    while level and type(level[0]) is list and all(type(item) is list for item in level):
        lists += len(level)
        level = list(chain.from_iterable(level))
    types = set(map(type, level))
    if list in types:
        level = []
        lists = _flatten_any(data, level)
        types = set(map(type, level))
    return level, lists, types


def _checked(values: list[Any], types: set[type], spec: _Type) -> list[Any]:
    """`values` if every element decodes into the Go element type; None elements become zero, as in Go."""
    if types <= spec.allowed:
        return values
    if type(None) in types:
        zero = False if spec.allowed is _BOOLS else 0
        values = [zero if v is None else v for v in values]
        types = types - {type(None)}
        if types <= spec.allowed:
            return values
    bad = next(v for v in values if type(v) not in spec.allowed)
    if type(bad) is float and spec.allowed is _INTS:
        raise _number_error(bad, spec.go_type)
    raise _type_error(bad, spec.go_type)


def _fill_numeric(contents: Any, spec: _Type, data: Any, shape: list[int]) -> None:
    if type(data) is not list:
        if len(shape) > 1:
            raise RestCodecError("invalid tensor data: not a json array")
        if data is not None:
            raise _type_error(data, "[]" + spec.go_type)
        return
    if len(shape) > 1 and data and type(data[0]) is list:
        data, lists, types = _nested_leaves(data)
        if lists != _bracket_count(shape):
            raise RestCodecError("invalid tensor data: invalid nested json arrays")
    else:
        types = set(map(type, data))
    values = _checked(data, types, spec)
    target = getattr(contents, spec.field)
    try:
        target.extend(values)
    except ValueError:
        bad = next(v for v in values if not spec.low <= v <= spec.high)
        raise _number_error(bad, spec.go_type) from None
    if spec.field == "fp32_contents" and values:
        finite = np.isfinite(_packed(contents, spec))
        if not finite.all():
            raise _number_error(values[int(np.argmin(finite))], spec.go_type)


def _byte_array(item: list[Any], nested_error: bool) -> bytes:
    if not set(map(type, item)) <= _INTS:
        for value in item:
            if type(value) is list and nested_error:
                raise RestCodecError("invalid tensor data: array nesting does not match tensor shape")
            if value is None:
                return _byte_array([0 if v is None else v for v in item], nested_error)
            if type(value) is float:
                raise _number_error(value, "uint8")
            if type(value) is not int:
                raise _type_error(value, "uint8")
    try:
        return bytes(item)
    except ValueError:
        raise _number_error(next(v for v in item if not 0 <= v <= 255), "uint8") from None


def _base64(text: str, context: str = "") -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RestCodecError(f"{context}illegal base64 data: {exc}") from None


def _byte_element(item: Any, nested_error: bool) -> bytes:
    if type(item) is list:
        return _byte_array(item, nested_error)
    if item is None:
        return b""
    if type(item) is str:
        return _base64(item)
    raise _type_error(item, "[]uint8")


def _collect_byte_arrays(data: list[Any], level: int, depth: int, out: list[bytes]) -> None:
    for item in data:
        if type(item) is list and level + 1 < depth:
            _collect_byte_arrays(item, level + 1, depth, out)
        else:
            out.append(_byte_element(item, depth > 2))


def _string_elements(data: list[Any], shape: list[int], b64: bool) -> list[bytes]:
    strings: list[Any] = []
    _flatten_any(data, strings)
    if not set(map(type, strings)) <= _TYPES["BYTES"].allowed:
        raise RestCodecError("tensor data must be a flat or nested json array of strings")
    if len(strings) > _element_count(shape):
        raise RestCodecError("more strings than expected for tensor shape")
    if b64:
        return [_base64(s, "error decoding json string as base64: ") for s in strings]
    return [s.encode("utf-8", "surrogatepass") for s in strings]


def _bytes_data(data: Any, shape: list[int], b64: bool) -> list[bytes]:
    """rest-proxy bytes.go: a flat or nested array of strings, or of byte arrays (arrays of numbers)."""
    depth, first = 0, data
    while type(first) is list:
        depth += 1
        if not first:
            break
        first = first[0]
    if depth == 0:
        raise RestCodecError("invalid tensor data: not a json array")
    if type(first) is str:
        if depth != 1 and depth != len(shape):
            raise RestCodecError("data array nesting does not match tensor shape")
        return _string_elements(data, shape, b64)
    if depth <= 1:
        raise RestCodecError("invalid tensor data: must be an array of byte arrays")
    if depth > 2 and depth - 1 != len(shape):
        raise RestCodecError("invalid tensor data: array nesting does not match tensor shape")
    arrays: list[bytes] = []
    _collect_byte_arrays(data, 1, depth, arrays)
    return arrays


def _add_input(tensor: Any, item: Any) -> None:
    if item is None:
        item = {}
    elif type(item) is not dict:
        raise _type_error(item, "main.InputTensorMeta")
    name = _string(item, "name", "InputTensorMeta.name")
    datatype = _string(item, "datatype", "InputTensorMeta.datatype")
    shape = _shape(item.get("shape"))
    params = item.get("parameters")
    if params is not None and type(params) is not dict:
        raise _type_error(params, "map[string]interface {}")
    spec = _TYPES.get(datatype)
    if spec is None:
        if datatype == "FP16":
            raise RestCodecError(f"FP16 tensors not supported (response tensor {name})")
        raise RestCodecError(f"unsupported datatype: {datatype}")
    tensor.name, tensor.datatype = name, datatype
    tensor.shape.extend(shape)
    _set_parameters(tensor.parameters, params)
    contents = tensor.contents
    contents.SetInParent()
    if "data" not in item:
        return
    if datatype == "BYTES":
        content_type = (params or {}).get("content_type")
        data = _bytes_data(item["data"], shape, type(content_type) is str and content_type in _BASE64_NAMES)
        contents.bytes_contents.extend(data)
    else:
        _fill_numeric(contents, spec, item["data"], shape)


def _add_output(tensor: Any, item: Any) -> None:
    go_type = "predictv2.ModelInferRequest_InferRequestedOutputTensor"
    if item is None:
        return
    if type(item) is not dict:
        raise _type_error(item, go_type)
    tensor.name = _string(item, "name", "ModelInferRequest_InferRequestedOutputTensor.name")
    params = item.get("parameters")
    if params is None:
        return
    field = "ModelInferRequest_InferRequestedOutputTensor.parameters"
    if type(params) is not dict:
        raise _type_error(params, "map[string]*predictv2.InferParameter", field)
    for key, value in params.items():
        # encoding/json into the generated Go struct: only an object (or null) fits, and it sets nothing
        if value is not None and type(value) is not dict:
            raise _type_error(value, "predictv2.InferParameter", field)
        tensor.parameters.get_or_create(key)


_REQUEST_LISTS = (
    ("inputs", _add_input, "[]main.InputTensor"),
    ("outputs", _add_output, "[]*predictv2.ModelInferRequest_InferRequestedOutputTensor"),
)


def infer_request_from_json(model_name: str, model_version: str | None, body: bytes) -> pb.ModelInferRequest:
    """The ModelInferRequest rest-proxy sends for `POST /v2/models/{name}[/versions/{version}]/infer`."""
    request = pb.ModelInferRequest(model_name=model_name)
    if model_version is not None:
        request.model_version = model_version
    doc = _load(body)
    if doc is None:
        return request
    if type(doc) is not dict:
        raise _type_error(doc, "main.RESTRequest")
    try:
        request.id = _string(doc, "id", "RESTRequest.id")
        _set_parameters(request.parameters, doc.get("parameters"))
        for key, add, go_type in _REQUEST_LISTS:
            items = doc.get(key)
            if items is None:
                continue
            if type(items) is not list:
                raise _type_error(items, go_type, f"RESTRequest.{key}")
            container = getattr(request, key)
            for item in items:
                add(container.add(), item)
    except UnicodeEncodeError:
        raise RestCodecError("invalid UTF-16 surrogate in JSON string") from None
    return request



_INTEGRAL = re.compile(rb"\.0(?=[,\]])")
_EXPONENT = re.compile(rb"-?[0-9.]+e[-+][0-9]+")
_HTML = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
         ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def _packed(contents: Any, spec: _Type) -> np.ndarray:
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
    text = _INTEGRAL.sub(b"", orjson.dumps(values, option=_NUMPY))
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
    blob, count = raw[index], _element_count(shape)
    if datatype == "BYTES":
        return _split_raw_bytes(blob, count)
    spec = _TYPES[datatype]
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
    spec = _TYPES[datatype]
    values = getattr(output.contents, spec.field)
    if not values:
        return None  # Go marshals the nil slice as null
    if datatype == "BYTES":
        return [base64.b64encode(value).decode() for value in values]
    if datatype in ("FP32", "FP64"):
        return _float_json(_packed(output.contents, spec))
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
        if datatype not in _TYPES:
            raise RestMarshalError(f"unsupported datatype in inference response outputs: {datatype}")
        tensor["data"] = (_raw_data(raw, index, name, datatype, output.shape) if raw
                          else _typed_data(output, datatype))
        outputs.append(tensor)
    if outputs:
        doc["outputs"] = outputs
    text = orjson.dumps(doc, option=_NUMPY)
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
