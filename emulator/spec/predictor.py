"""The legacy Predictor (serving.kserve.io/v1alpha1) and PredictorSpec, which InferenceServices convert to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from .meta import KubeModel, TopLevelObject

__all__ = [
    "ModelType",
    "PersistentVolumeClaimSource",
    "Predictor",
    "PredictorRuntime",
    "PredictorSpec",
    "PredictorStorage",
    "S3Storage",
    "StorageLocation",
]


class ModelType(KubeModel):
    name: str
    version: str | None = None


class PredictorRuntime(KubeModel):
    # None stands for upstream's `runtime: {}` (no RuntimeRef), which hashes differently from name "".
    name: str | None = None


class S3Storage(KubeModel):
    """Deprecated `spec.storage.s3`: a storage-config key and an optional bucket."""

    secret_key: str
    bucket: str | None = None


class PersistentVolumeClaimSource(KubeModel):
    claim_name: str
    read_only: bool | None = None


class PredictorStorage(KubeModel):
    s3: S3Storage | None = None
    path: str | None = None
    schema_path: str | None = None
    parameters: dict[str, str] | None = None
    key: str | None = None
    persistent_volume_claim: PersistentVolumeClaimSource | None = None


@dataclass(frozen=True)
class StorageLocation:
    """What ModelMesh is told about a model's files (upstream `extractModelFields`)."""

    path: str = ""
    schema_path: str | None = None
    storage_key: str | None = None
    storage_params: dict[str, str] | None = field(default=None, hash=False)


class PredictorSpec(KubeModel):
    model_type: ModelType
    runtime: PredictorRuntime | None = None
    path: str = ""
    schema_path: str | None = None
    storage: PredictorStorage | None = None
    gpu: Literal["required", "preferred"] | None = None
    protocol_version: str | None = None
    service_account_name: str | None = None

    @property
    def runtime_name(self) -> str | None:
        """The explicitly requested runtime, or None when the runtime is chosen by model type."""
        return self.runtime.name if self.runtime is not None and self.runtime.name else None

    def validation_error(self) -> str | None:
        """Why ModelMesh would mark this spec InvalidSpec (upstream `validatePredictor`), or None."""
        storage = self.storage
        if storage is None:
            return None
        if storage.path is not None and self.path != "":
            return "Only one of spec.path and spec.storage.path can be specified"
        if storage.schema_path is not None and self.schema_path is not None:
            return "Only one of spec.schemaPath and spec.storage.schemaPath can be specified"
        if storage.persistent_volume_claim is not None:
            return "spec.storage.PersistentVolumeClaim is not supported"
        new_fields = (storage.path, storage.schema_path, storage.parameters, storage.key)
        uses_new_fields = any(value is not None for value in new_fields)
        if storage.s3 is not None and uses_new_fields:
            return "spec.storage.s3 cannot be specified with any other keys in spec.storage"
        return None

    def storage_location(self) -> StorageLocation:
        """Model path, schema path, storage key and parameters; deprecated fields resolved as upstream."""
        storage = self.storage
        if storage is None:
            return StorageLocation()
        params: dict[str, str] | None = None
        if storage.parameters is not None:
            params = dict(storage.parameters)
        elif storage.s3 is not None and storage.s3.bucket is not None:
            params = {"bucket": storage.s3.bucket}
        key = storage.key if storage.key is not None else (storage.s3.secret_key if storage.s3 else None)
        return StorageLocation(
            path=storage.path if storage.path is not None else self.path,
            schema_path=storage.schema_path if storage.schema_path is not None else self.schema_path,
            storage_key=key,
            storage_params=params,
        )


class Predictor(TopLevelObject):
    api_versions: ClassVar[tuple[str, ...]] = ("serving.kserve.io/v1alpha1",)

    api_version: str = "serving.kserve.io/v1alpha1"
    kind: Literal["Predictor"] = "Predictor"
    spec: PredictorSpec
