"""InferenceService (serving.kserve.io/v1beta1) in ModelMesh mode, and its conversion to a PredictorSpec."""

from __future__ import annotations

from typing import ClassVar, Literal

from .errors import InvalidPredictorSpecError
from .meta import KubeModel, TopLevelObject
from .predictor import ModelType, PredictorRuntime, PredictorSpec, PredictorStorage
from .storage_uri import UnsupportedStorageUriSchemeError, parse_storage_uri

__all__ = [
    "DEPLOYMENT_MODE_ANNOTATION",
    "FRAMEWORK_FIELDS",
    "MODELMESH_DEPLOYMENT_MODE",
    "RUNTIME_ANNOTATION",
    "SCHEMA_PATH_ANNOTATION",
    "SECRET_KEY_ANNOTATION",
    "FrameworkSpec",
    "InferenceService",
    "InferenceServiceSpec",
    "IsvcModelSpec",
    "IsvcPredictorSpec",
    "IsvcStorageSpec",
    "ModelFormat",
]

DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
MODELMESH_DEPLOYMENT_MODE = "ModelMesh"
SECRET_KEY_ANNOTATION = "serving.kserve.io/secretKey"
SCHEMA_PATH_ANNOTATION = "serving.kserve.io/schemaPath"
RUNTIME_ANNOTATION = "serving.kserve.io/servingRuntime"

FRAMEWORK_FIELDS = ("xgboost", "lightgbm", "sklearn", "tensorflow", "onnx", "pytorch", "triton", "pmml")
"""Old-format framework fields ModelMesh understands, in the order it checks them."""


class IsvcStorageSpec(KubeModel):
    key: str | None = None
    path: str | None = None
    schema_path: str | None = None
    parameters: dict[str, str] | None = None


class FrameworkSpec(KubeModel):
    """KServe's PredictorExtensionSpec: the storage/protocol part of `model` and of every framework field."""

    storage_uri: str | None = None
    runtime_version: str | None = None
    protocol_version: str | None = None
    storage: IsvcStorageSpec | None = None


class ModelFormat(KubeModel):
    name: str
    version: str | None = None


class IsvcModelSpec(FrameworkSpec):
    model_format: ModelFormat
    runtime: str | None = None


class IsvcPredictorSpec(KubeModel):
    model: IsvcModelSpec | None = None
    xgboost: FrameworkSpec | None = None
    lightgbm: FrameworkSpec | None = None
    sklearn: FrameworkSpec | None = None
    tensorflow: FrameworkSpec | None = None
    onnx: FrameworkSpec | None = None
    pytorch: FrameworkSpec | None = None
    triton: FrameworkSpec | None = None
    pmml: FrameworkSpec | None = None
    # Accepted by KServe but not by ModelMesh: an ISVC using only these is reported as InvalidSpec.
    paddle: FrameworkSpec | None = None
    huggingface: FrameworkSpec | None = None

    def framework(self) -> tuple[str, FrameworkSpec] | None:
        """The first framework field set, in ModelMesh's order (upstream `getPredictorFramework`)."""
        for name in FRAMEWORK_FIELDS:
            spec = getattr(self, name)
            if spec is not None:
                return name, spec
        return None


class InferenceServiceSpec(KubeModel):
    predictor: IsvcPredictorSpec


class InferenceService(TopLevelObject):
    api_versions: ClassVar[tuple[str, ...]] = ("serving.kserve.io/v1beta1",)

    api_version: str = "serving.kserve.io/v1beta1"
    kind: Literal["InferenceService"] = "InferenceService"
    spec: InferenceServiceSpec

    @property
    def is_modelmesh_mode(self) -> bool:
        return self.metadata.annotations.get(DEPLOYMENT_MODE_ANNOTATION) == MODELMESH_DEPLOYMENT_MODE

    def to_predictor_spec(self) -> PredictorSpec:
        """The PredictorSpec ModelMesh builds from this ISVC; InvalidPredictorSpecError when it cannot."""
        spec, extension = self._base_predictor_spec()
        return spec.model_copy(update={"storage": self._storage(extension)})

    def _base_predictor_spec(self) -> tuple[PredictorSpec, FrameworkSpec]:
        """Upstream `BuildBasePredictorFromInferenceService`; also returns the spec holding the storage."""
        name = self.metadata.name
        if not self.is_modelmesh_mode:
            raise InvalidPredictorSpecError(
                f"the InferenceService {name} is not annotated "
                f"{DEPLOYMENT_MODE_ANNOTATION}: {MODELMESH_DEPLOYMENT_MODE}"
            )
        annotations = self.metadata.annotations
        predictor = self.spec.predictor
        framework = predictor.framework()
        model = predictor.model
        if model is not None:
            if framework is not None:
                raise InvalidPredictorSpecError(
                    f"the InferenceService {name} cannot have both the model spec and a framework spec "
                    f"({framework[0]})"
                )
            if RUNTIME_ANNOTATION in annotations:
                raise InvalidPredictorSpecError(
                    f"the InferenceService {name} cannot have both the model spec and the runtime annotation "
                    f"{RUNTIME_ANNOTATION}"
                )
            spec = PredictorSpec(
                model_type=ModelType(name=model.model_format.name, version=model.model_format.version),
                protocol_version=model.protocol_version or None,
                runtime=PredictorRuntime(name=model.runtime) if model.runtime is not None else None,
            )
            return spec, model
        if framework is None:
            raise InvalidPredictorSpecError("no valid InferenceService predictor framework found")
        framework_name, framework_spec = framework
        runtime = annotations.get(RUNTIME_ANNOTATION)
        spec = PredictorSpec(
            model_type=ModelType(name=framework_name),
            protocol_version=framework_spec.protocol_version or None,
            runtime=PredictorRuntime(name=runtime) if runtime is not None else None,
        )
        return spec, framework_spec

    def _storage(self, extension: FrameworkSpec) -> PredictorStorage:
        """Upstream `processInferenceServiceStorage`."""
        namespace = self.metadata.namespace
        nname = f"{namespace}/{self.metadata.name}" if namespace else self.metadata.name
        storage = extension.storage
        uri_parameters: dict[str, str] = {}
        if extension.storage_uri is None:
            if storage is None or storage.path is None:
                raise InvalidPredictorSpecError(
                    f"the InferenceService {nname} must have either the storageUri or the storage.path"
                )
            model_path = storage.path
        else:
            if storage is not None and storage.path is not None:
                raise InvalidPredictorSpecError(
                    f"the InferenceService {nname} cannot have both the storageUri and the storage.path"
                )
            try:
                target = parse_storage_uri(extension.storage_uri)
            except UnsupportedStorageUriSchemeError as exc:
                raise InvalidPredictorSpecError(
                    f"the InferenceService {nname} has an unsupported storageUri scheme {exc.scheme}"
                ) from None
            except ValueError as exc:
                raise InvalidPredictorSpecError(
                    f"could not parse storageUri in InferenceService {nname}: {exc}"
                ) from None
            model_path, uri_parameters = target.path, target.parameters

        key = storage.key if storage is not None else None
        schema_path = storage.schema_path if storage is not None else None
        if storage is not None and storage.parameters is not None:
            parameters = {**storage.parameters, **uri_parameters}  # URI parameters win
        else:
            parameters = dict(uri_parameters)
        annotations = self.metadata.annotations
        if key is None:
            key = annotations.get(SECRET_KEY_ANNOTATION)
        if schema_path is None:
            schema_path = annotations.get(SCHEMA_PATH_ANNOTATION)
        return PredictorStorage(path=model_path, schema_path=schema_path, parameters=parameters, key=key)
