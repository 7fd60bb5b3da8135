"""Pydantic models of the Kubernetes kinds ModelMesh reads, the YAML loader, and Kubernetes quantities."""

from .endpoint import Endpoint, parse_endpoint
from .errors import InvalidPredictorSpecError
from .gojson import model_key_json, predictor_spec_hash, predictor_spec_json
from .isvc import (
    DEPLOYMENT_MODE_ANNOTATION,
    MODELMESH_DEPLOYMENT_MODE,
    RUNTIME_ANNOTATION,
    SCHEMA_PATH_ANNOTATION,
    SECRET_KEY_ANNOTATION,
    FrameworkSpec,
    InferenceService,
    InferenceServiceSpec,
    IsvcModelSpec,
    IsvcPredictorSpec,
    IsvcStorageSpec,
    ModelFormat,
)
from .kinds import SUPPORTED_KINDS, Manifest, resolve_kind
from .load import MANIFEST_SUFFIXES, load_file, load_paths, load_text, manifest_files, parse_document
from .meta import ObjectMeta
from .predictor import (
    ModelType,
    PersistentVolumeClaimSource,
    Predictor,
    PredictorRuntime,
    PredictorSpec,
    PredictorStorage,
    S3Storage,
    StorageLocation,
)
from .quantity import parse_quantity, to_bytes, to_millicores
from .runtime import (
    BuiltInAdapter,
    Container,
    ContainerPort,
    EnvVar,
    ResourceRequirements,
    ServingRuntime,
    ServingRuntimeSpec,
    StorageHelper,
    SupportedModelFormat,
    VolumeMount,
)
from .secret import StorageConfigSecret
from .serialize import serialize
from .validation import DEFAULT_STORAGE_SECRET_NAME, validate_manifest, validate_serving_runtime

__all__ = [
    "DEFAULT_STORAGE_SECRET_NAME",
    "DEPLOYMENT_MODE_ANNOTATION",
    "MANIFEST_SUFFIXES",
    "MODELMESH_DEPLOYMENT_MODE",
    "RUNTIME_ANNOTATION",
    "SCHEMA_PATH_ANNOTATION",
    "SECRET_KEY_ANNOTATION",
    "SUPPORTED_KINDS",
    "BuiltInAdapter",
    "Container",
    "ContainerPort",
    "Endpoint",
    "EnvVar",
    "FrameworkSpec",
    "InferenceService",
    "InferenceServiceSpec",
    "InvalidPredictorSpecError",
    "IsvcModelSpec",
    "IsvcPredictorSpec",
    "IsvcStorageSpec",
    "Manifest",
    "ModelFormat",
    "ModelType",
    "ObjectMeta",
    "PersistentVolumeClaimSource",
    "Predictor",
    "PredictorRuntime",
    "PredictorSpec",
    "PredictorStorage",
    "ResourceRequirements",
    "S3Storage",
    "ServingRuntime",
    "ServingRuntimeSpec",
    "StorageConfigSecret",
    "StorageHelper",
    "StorageLocation",
    "SupportedModelFormat",
    "VolumeMount",
    "load_file",
    "load_paths",
    "load_text",
    "manifest_files",
    "model_key_json",
    "parse_document",
    "parse_endpoint",
    "parse_quantity",
    "predictor_spec_hash",
    "predictor_spec_json",
    "resolve_kind",
    "serialize",
    "to_bytes",
    "to_millicores",
    "validate_manifest",
    "validate_serving_runtime",
]
