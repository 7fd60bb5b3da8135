"""Kubernetes' protobuf encoding of the core kinds kubectl sends that way (Secret, ConfigMap), decoded to the
JSON form of the object.

Envelope: the magic `k8s\\0`, then a `runtime.Unknown` {typeMeta{apiVersion, kind}, raw, contentEncoding,
contentType} whose `raw` is the object (k8s.io/api/core/v1/generated.proto). Only the fields these kinds carry
are read; an unknown kind is refused with the reason.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode_object"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field; length-delimited values as bytes, varints as int."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError("truncated field")
            yield number, data[position:position + length]
            position += length
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string field")
    return value.decode("utf-8")


def _entry(value: int | bytes) -> tuple[str, bytes]:
    """A map<string, string|bytes> entry: key 1, value 2."""
    if not isinstance(value, bytes):
        raise ProtobufError("expected a map entry")
    key, item = "", b""
    for number, part in _fields(value):
        if number == 1:
            key = _text(part)
        elif number == 2 and isinstance(part, bytes):
            item = part
    return key, item


_META_STRINGS = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
_META_MAPS = {11: "labels", 12: "annotations"}


def _metadata(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for number, value in _fields(data):
        if number in _META_STRINGS and _text(value):  # proto2 writes unset strings as ""
            meta[_META_STRINGS[number]] = _text(value)
        elif number in _META_MAPS:
            key, item = _entry(value)
            meta.setdefault(_META_MAPS[number], {})[key] = item.decode("utf-8")
    return meta


def _secret(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            body["metadata"] = _metadata(value)
        elif number == 2:
            key, item = _entry(value)
            body.setdefault("data", {})[key] = base64.b64encode(item).decode("ascii")
        elif number == 3 and _text(value):
            body["type"] = _text(value)
        elif number == 4:
            key, item = _entry(value)
            body.setdefault("stringData", {})[key] = item.decode("utf-8")
        elif number == 5:
            body["immutable"] = bool(value)
    return body


def _config_map(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            body["metadata"] = _metadata(value)
        elif number == 2:
            key, item = _entry(value)
            body.setdefault("data", {})[key] = item.decode("utf-8")
        elif number == 3:
            key, item = _entry(value)
            body.setdefault("binaryData", {})[key] = base64.b64encode(item).decode("ascii")
    return body


_DECODERS = {"Secret": _secret, "ConfigMap": _config_map}


def decode_object(payload: bytes) -> dict[str, Any]:
    """The object in a `application/vnd.kubernetes.protobuf` body, as JSON; ProtobufError saying why not."""
    if not payload.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic number")
    type_meta: dict[str, str] = {}
    raw = b""
    for number, value in _fields(payload[len(MAGIC):]):
        if number == 1 and isinstance(value, bytes):
            type_meta = {("apiVersion" if n == 1 else "kind"): _text(v) for n, v in _fields(value) if n in (1, 2)}
        elif number == 2 and isinstance(value, bytes):
            raw = value
    kind = type_meta.get("kind", "")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ProtobufError(f"protobuf bodies are decoded for {', '.join(_DECODERS)} only, not {kind or 'this kind'}"
                            "; send JSON or YAML")
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind} | decoder(raw)
