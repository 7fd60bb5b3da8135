"""PredictorSpec as Go's `encoding/json` writes it: the input of ModelMesh's concrete model id hash.

Field order, `omitempty` and pointer semantics follow modelmesh-serving's v1alpha1 PredictorSpec; map keys
are sorted and `<`, `>`, `&`, U+2028, U+2029 escaped, as `json.Marshal` does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .predictor import PredictorSpec, PredictorStorage

__all__ = ["go_json", "model_key_json", "predictor_spec_hash", "predictor_spec_json"]

_GO_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    """Compact JSON with Go's escaping; dict order is kept, so callers order fields (and sort maps)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # These characters can only occur inside JSON strings, so replacing them in the whole text is safe.
    for char, escaped in _GO_HTML_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode("utf-8", "replace")


def _sorted_map(mapping: dict[str, str]) -> dict[str, str]:
    return {key: mapping[key] for key in sorted(mapping)}


def _storage_document(storage: PredictorStorage) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if storage.path is not None:
        doc["path"] = storage.path
    if storage.schema_path is not None:
        doc["schemaPath"] = storage.schema_path
    if storage.parameters is not None:
        doc["parameters"] = _sorted_map(storage.parameters)
    if storage.key is not None:
        doc["key"] = storage.key
    if storage.persistent_volume_claim is not None:
        pvc: dict[str, Any] = {"claimName": storage.persistent_volume_claim.claim_name}
        if storage.persistent_volume_claim.read_only:
            pvc["readOnly"] = True
        doc["persistentVolumeClaim"] = pvc
    if storage.s3 is not None:
        s3: dict[str, Any] = {"secretKey": storage.s3.secret_key}
        if storage.s3.bucket is not None:
            s3["bucket"] = storage.s3.bucket
        doc["s3"] = s3
    return doc


def _model_type_document(spec: PredictorSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": spec.model_type.name}
    if spec.model_type.version is not None:
        doc["version"] = spec.model_type.version
    return doc


def predictor_spec_json(spec: PredictorSpec) -> bytes:
    doc: dict[str, Any] = {}
    if spec.service_account_name is not None:
        doc["serviceAccountName"] = spec.service_account_name
    doc["modelType"] = _model_type_document(spec)
    doc["path"] = spec.path  # not omitempty upstream
    if spec.schema_path is not None:
        doc["schemaPath"] = spec.schema_path
    if spec.storage is not None:
        doc["storage"] = _storage_document(spec.storage)
    if spec.gpu is not None:
        doc["gpu"] = spec.gpu
    if spec.runtime is not None:
        doc["runtime"] = {"name": spec.runtime.name} if spec.runtime.name is not None else {}
    if spec.protocol_version is not None:
        doc["protocolVersion"] = spec.protocol_version
    return go_json(doc)


def predictor_spec_hash(spec: PredictorSpec) -> str:
    """The 10 hex digits ModelMesh appends to concrete model ids: SHA-1 of the Go JSON, first 5 bytes."""
    return hashlib.sha1(predictor_spec_json(spec)).hexdigest()[:10]


def model_key_json(spec: PredictorSpec) -> str:
    """The `modelInfo.key` JSON ModelMesh passes to the runtime (upstream `ModelKeyInfo`, all omitempty)."""
    location = spec.storage_location()
    doc: dict[str, Any] = {}
    if location.storage_key is not None:
        doc["storage_key"] = location.storage_key
    if location.storage_params:
        doc["storage_params"] = _sorted_map(location.storage_params)
    doc["model_type"] = _model_type_document(spec)
    if location.schema_path is not None:
        doc["schema_path"] = location.schema_path
    return go_json(doc).decode("utf-8")
