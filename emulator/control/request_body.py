"""Request bodies decoded by Content-Type: JSON, YAML (one document) or Kubernetes protobuf (core kinds)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..errors import InvalidArgumentError
from ..kube.protobuf import ProtobufError, decode_object

__all__ = ["PROTOBUF", "decode_body", "media_type"]

PROTOBUF = "application/vnd.kubernetes.protobuf"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str | None) -> Any:
    """The decoded body; InvalidArgumentError (400) naming what is wrong with it. Call in a worker thread."""
    kind = media_type(content_type)
    if kind == PROTOBUF:
        try:
            return decode_object(body)
        except ProtobufError as exc:
            raise InvalidArgumentError(f"the request body is not a protobuf object the emulator reads: {exc}") \
                from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError("the request body is not UTF-8 text") from None
    if "json" in kind:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column "
                                       f"{exc.colno}") from None
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise InvalidArgumentError(f"the request body is not valid YAML{where}") from None
    if len(documents) != 1:
        raise InvalidArgumentError(f"the request body must hold one object, not {len(documents)} documents")
    return documents[0]
