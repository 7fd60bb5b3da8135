"""JSON request bodies → KServe V2 `ModelInferRequest`, as rest-proxy converts them (errors as its Go texts)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from itertools import chain
from typing import Any

import numpy as np
import orjson

from ...v2_protos import dataplane_pb2 as pb
from .types import (
    BASE64_NAMES,
    BOOLS,
    I64_RANGE,
    INTS,
    TYPES,
    DatatypeSpec,
    RestCodecError,
    element_count,
    packed_contents,
)

__all__ = ["MAX_DATA_NESTING", "infer_request_from_json"]

# The emulator's own bound (Go's encoding/json allows 10000 levels): tensor data nested deeper is refused before
# the recursive flattening below could exhaust Python's stack. numpy arrays have at most 64 dimensions.
MAX_DATA_NESTING = 64
# Large tensors are scanned and copied in slices: every C call stays short, so when a big body is converted on a
# worker thread (rest_server.OFFLOAD_BYTES) the GIL passes back to the event loop between slices.
_SLICE = 1 << 14


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


def _types(values: list[Any]) -> set[type]:
    found: set[type] = set()
    for start in range(0, len(values), _SLICE):
        found.update(map(type, values[start:start + _SLICE]))
    return found


def _extend(target: Any, values: list[Any]) -> None:
    for start in range(0, len(values), _SLICE):
        target.extend(values[start:start + _SLICE])


def _too_deep() -> RestCodecError:
    return RestCodecError(f"invalid tensor data: exceeded max depth: arrays nested more than {MAX_DATA_NESTING} deep")


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
        elif type(dim) is float or (type(dim) is int and not I64_RANGE[0] <= dim <= I64_RANGE[1]):
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


def _flatten_any(data: list[Any], out: list[Any], level: int = 1) -> int:
    """Leaves of nested lists (at most MAX_DATA_NESTING deep) into `out`; returns how many lists there were."""
    if level > MAX_DATA_NESTING:
        raise _too_deep()
    lists = 1
    for item in data:
        if type(item) is list:
            lists += _flatten_any(item, out, level + 1)
        else:
            out.append(item)
    return lists


def _nested_leaves(data: list[Any]) -> tuple[list[Any], int, set[type]]:
    """Go strips every bracket of nested data: the leaves, the number of arrays and the leaf types."""
    lists, level, depth = 1, data, 1
    while level and type(level[0]) is list and all(type(item) is list for item in level):
        depth += 1
        if depth > MAX_DATA_NESTING:
            raise _too_deep()
        lists += len(level)
        level = list(chain.from_iterable(level))
    types = _types(level)
    if list in types:
        level = []
        lists = _flatten_any(data, level)
        types = _types(level)
    return level, lists, types


def _checked(values: list[Any], types: set[type], spec: DatatypeSpec) -> list[Any]:
    """`values` if every element decodes into the Go element type; None elements become zero, as in Go."""
    if types <= spec.allowed:
        return values
    if type(None) in types:
        zero = False if spec.allowed is BOOLS else 0
        values = [zero if v is None else v for v in values]
        types = types - {type(None)}
        if types <= spec.allowed:
            return values
    bad = next(v for v in values if type(v) not in spec.allowed)
    if type(bad) is float and spec.allowed is INTS:
        raise _number_error(bad, spec.go_type)
    raise _type_error(bad, spec.go_type)


def _fill_numeric(contents: Any, spec: DatatypeSpec, data: Any, shape: list[int]) -> None:
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
        types = _types(data)
    values = _checked(data, types, spec)
    target = getattr(contents, spec.field)
    try:
        _extend(target, values)
    except ValueError:
        bad = next(v for v in values if not spec.low <= v <= spec.high)
        raise _number_error(bad, spec.go_type) from None
    if spec.field == "fp32_contents" and values:
        finite = np.isfinite(packed_contents(contents, spec))
        if not finite.all():
            raise _number_error(values[int(np.argmin(finite))], spec.go_type)


def _byte_array(item: list[Any], nested_error: bool) -> bytes:
    if not set(map(type, item)) <= INTS:
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
    if not set(map(type, strings)) <= TYPES["BYTES"].allowed:
        raise RestCodecError("tensor data must be a flat or nested json array of strings")
    if len(strings) > element_count(shape):
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
    if depth > MAX_DATA_NESTING:
        raise _too_deep()
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
    spec = TYPES.get(datatype)
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
        data = _bytes_data(item["data"], shape, type(content_type) is str and content_type in BASE64_NAMES)
        _extend(contents.bytes_contents, data)
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
