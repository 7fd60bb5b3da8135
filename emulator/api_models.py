"""Models and vmodels registered through ModelMesh's own API (`mmesh.ModelMesh` on 8033), not by a manifest.

A model there is an id and a `ModelInfo{type, path, key}`: the type is ModelMesh's type string (the labels a
runtime must have: `mt:<format>[:<version>]`, `rt:<runtime>`, `…|pv:<protocol>`), path and key are handed to
the runtime's loadModel (the key is the JSON modelKey the controller would write:
`{"storage_key", "storage_params", "model_type", "schema_path"}`). This module turns one into the emulator's
`RegisteredModel`, so placement loads, serves and evicts it like a model of an InferenceService.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .registry import RegisteredModel
from .spec import ObjectMeta, Predictor, PredictorSpec
from .spec.predictor import ModelType, PredictorStorage

__all__ = ["API_MODEL_KIND", "API_VMODEL_KIND", "ApiModelInfo", "api_registered_model"]

API_MODEL_KIND = "ModelMeshModel"
"""`RegisteredModel.kind` of a concrete model registered through `registerModel` or `setVModel`."""
API_VMODEL_KIND = "ModelMeshVModel"
"""`RegisteredModel.kind` of a vmodel made through `setVModel` (InferenceServices' are `InferenceService`)."""


@dataclass(frozen=True)
class ApiModelInfo:
    type: str
    path: str | None = None
    key: str | None = None
    """Empty strings are stored as None, as ModelMesh does before comparing."""

    @classmethod
    def of(cls, type_: str, path: str, key: str) -> ApiModelInfo:
        return cls(type_, path or None, key or None)


def _model_key(key: str | None) -> dict[str, Any]:
    if not key:
        return {}
    try:
        parsed = json.loads(key)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _model_type(info: ApiModelInfo, key: dict[str, Any]) -> ModelType:
    declared = key.get("model_type")
    if isinstance(declared, dict) and isinstance(declared.get("name"), str) and declared["name"]:
        version = declared.get("version")
        return ModelType(name=declared["name"], version=str(version) if version is not None else None)
    first = info.type.split("|", 1)[0]
    if first.startswith("mt:"):
        name, _, version = first[3:].partition(":")
        return ModelType(name=name, version=version or None)
    return ModelType(name=first.removeprefix("rt:"))


def api_registered_model(model_id: str, info: ApiModelInfo, namespace: str) -> RegisteredModel:
    """The concrete model `model_id` as placement sees it; its runtime is chosen by the type's labels."""
    key = _model_key(info.key)
    params = key.get("storage_params")
    storage = PredictorStorage(
        path=info.path,
        key=key.get("storage_key") if isinstance(key.get("storage_key"), str) else None,
        parameters={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None,
        schema_path=key.get("schema_path") if isinstance(key.get("schema_path"), str) else None,
    )
    spec = PredictorSpec(model_type=_model_type(info, key), storage=storage)
    # Model ids need not be Kubernetes names: the stand-in source object is built without validation.
    source = Predictor.model_construct(metadata=ObjectMeta.model_construct(name=model_id, namespace=namespace),
                                       spec=spec)
    return RegisteredModel(
        namespace=namespace, name=model_id, kind=API_MODEL_KIND, owner="", concrete_id=model_id, predictor=spec,
        spec_error=None, type_string=info.type, required_labels=frozenset(info.type.split("|")), source=source,
    )
