"""The storage-config Secret: each key names a storage, each value is that storage's JSON config."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..errors import SpecError
from .bounded_yaml import TOO_DEEP, nesting_problem
from .meta import TopLevelObject

__all__ = ["StorageConfigSecret"]


def _decode_json_object(raw: str, field: str) -> dict[str, Any]:
    # Messages never include the value: it holds credentials.
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"storage entry is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            field=field,
        ) from None
    except RecursionError:  # the C decoder gives up safely at Python's recursion limit
        raise SpecError(f"storage entry: {TOO_DEEP}", field=field) from None
    too_deep = nesting_problem(value)
    if too_deep is not None:
        raise SpecError(f"storage entry: {too_deep}", field=field)
    if not isinstance(value, dict):
        raise SpecError(f"storage entry must be a JSON object, not {type(value).__name__}", field=field)
    return value


def _decode_base64(raw: Any, field: str) -> str:
    if not isinstance(raw, str):
        raise SpecError("Secret data values must be base64 strings", field=field)
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise SpecError("not valid base64-encoded UTF-8 text", field=field) from None


class StorageConfigSecret(TopLevelObject):
    """`entries` is built from `data` (base64) and `stringData` (plain text; wins on the same key)."""

    api_versions: ClassVar[tuple[str, ...]] = ("v1",)

    api_version: str = "v1"
    kind: Literal["Secret"] = "Secret"
    type: str | None = None
    entries: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _entries_from_data(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "entries" in raw:
            return raw
        entries: dict[str, dict[str, Any]] = {}
        for section, decode in (("data", _decode_base64), ("stringData", None)):
            values = raw.get(section) or {}
            if not isinstance(values, dict):
                raise SpecError("must be a mapping of storage names to JSON", field=section)
            for key, value in values.items():
                field = f"{section}.{key}"
                if decode is not None:
                    text = decode(value, field)
                elif isinstance(value, str):
                    text = value
                else:
                    raise SpecError("Secret stringData values must be strings", field=field)
                entries[str(key)] = _decode_json_object(text, field)
        return {k: v for k, v in raw.items() if k not in ("data", "stringData")} | {"entries": entries}
