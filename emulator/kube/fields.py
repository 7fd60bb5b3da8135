"""Field validation as the API server does it (`fieldValidation=Strict|Warn|Ignore`), from pydantic models.

`unknown_fields` walks a request body beside the model of its kind and names every field the model does not
declare, as `spec.predictor.foo`; a field typed `dict[str, Any]`/`Any` accepts anything below it (like
`x-kubernetes-preserve-unknown-fields`). Strict turns them into the API server's
`strict decoding error: unknown field "spec.foo"` (400 BadRequest), Warn into `Warning` headers, Ignore drops
them silently (the models ignore unknown fields anyway).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["LEVELS", "strict_message", "unknown_fields", "warning_texts"]

LEVELS = ("Strict", "Warn", "Ignore")
_SERVER_SET = {"metadata": {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                            "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "ownerReferences",
                            "generateName", "selfLink"}}
_ALWAYS = {"apiVersion", "kind", "status"}


def _models_in(annotation: Any) -> tuple[str, Any]:
    """('model', cls) | ('list', inner) | ('map', inner) | ('any', None) for a field's annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        kinds = [_models_in(arg) for arg in options]
        return next((kind for kind in kinds if kind[0] != "scalar"), ("scalar", None))
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return ("list", args[0]) if args else ("any", None)
    if origin is dict:
        args = typing.get_args(annotation)
        return ("map", args[1]) if len(args) == 2 else ("any", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if annotation is Any or annotation is dict or annotation is list:
        return "any", None
    return "scalar", None


def _aliases(model: type[BaseModel]) -> dict[str, Any]:
    return {(info.alias or name): info.annotation for name, info in model.model_fields.items()
            if not info.exclude}


def _walk(value: Any, annotation: Any, path: str, found: list[str]) -> None:
    kind, inner = _models_in(annotation)
    if kind == "model" and isinstance(value, dict):
        fields = _aliases(inner)
        for key, item in value.items():
            if key in fields:
                _walk(item, fields[key], f"{path}.{key}" if path else key, found)
            elif not (not path and key in _ALWAYS) and key not in _SERVER_SET.get(path, ()):
                found.append(f"{path}.{key}" if path else key)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, inner, f"{path}[{index}]", found)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _walk(item, inner, f"{path}.{key}", found)


def unknown_fields(body: dict[str, Any], model: type[BaseModel], *, extra_top: frozenset[str] = frozenset()
                   ) -> list[str]:
    """Paths of the fields of `body` that `model` does not declare (`extra_top`: top-level names read by the
    model's own validator, such as a Secret's data/stringData)."""
    found: list[str] = []
    _walk({key: value for key, value in body.items() if key not in extra_top}, model, "", found)
    return found


def strict_message(paths: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in paths)


def warning_texts(paths: list[str]) -> list[str]:
    """The `Warning` header values the API server sends with fieldValidation=Warn."""
    return [f'299 - "unknown field \\"{path}\\""' for path in paths]
