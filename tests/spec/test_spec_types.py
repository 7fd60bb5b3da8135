"""Spec fields take only their own JSON type, as the Kubernetes API server's strict decoding: no bool for an int,
no "8080" for a port, no "true" for a bool, no number for a string."""

from __future__ import annotations

import pytest

from emulator.errors import SpecError
from emulator.spec import load_text

RUNTIME = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {{name: rt}}
spec:
  supportedModelFormats: [{{name: sklearn, autoSelect: {auto_select}, priority: {priority}}}]
  multiModel: {multi_model}
  replicas: {replicas}
  builtInAdapter: {{serverType: mlserver, runtimeManagementPort: {management_port}, memBufferBytes: 134217728,
                   modelLoadingTimeoutMillis: {timeout}}}
  storageHelper: {{disabled: {helper_disabled}}}
  containers:
  - name: mlserver
    image: {image}
    ports: [{{containerPort: {port}}}]
    volumeMounts: [{{name: v, mountPath: /v, readOnly: {read_only}}}]
"""
GOOD = {"auto_select": "true", "priority": "1", "multi_model": "true", "replicas": "2", "management_port": "8002",
        "timeout": "90000", "helper_disabled": "false", "image": "x", "port": "8001", "read_only": "true"}
FIELDS = {
    "auto_select": "spec.supportedModelFormats[0].autoSelect",
    "priority": "spec.supportedModelFormats[0].priority",
    "multi_model": "spec.multiModel",
    "replicas": "spec.replicas",
    "management_port": "spec.builtInAdapter.runtimeManagementPort",
    "timeout": "spec.builtInAdapter.modelLoadingTimeoutMillis",
    "helper_disabled": "spec.storageHelper.disabled",
    "image": "spec.containers[0].image",
    "port": "spec.containers[0].ports[0].containerPort",
    "read_only": "spec.containers[0].volumeMounts[0].readOnly",
}
INTEGER, BOOLEAN, STRING = "Input should be a valid integer", "Input should be a valid boolean", \
    "Input should be a valid string"
BAD_VALUES = [
    ("port", "true", INTEGER),  # the issue's `containerPort: true`
    ("port", '"8001"', INTEGER),
    ("port", "8001.5", INTEGER),
    ("replicas", "true", INTEGER),
    ("priority", '"1"', INTEGER),
    ("management_port", "false", INTEGER),
    ("timeout", '"90000"', INTEGER),
    ("multi_model", '"true"', BOOLEAN),
    ("multi_model", "1", BOOLEAN),
    ("auto_select", '"yes"', BOOLEAN),
    ("helper_disabled", "0", BOOLEAN),
    ("read_only", '"false"', BOOLEAN),
    ("image", "1", STRING),
    ("image", "true", STRING),
]


def runtime(**changes: str) -> str:
    return RUNTIME.format(**(GOOD | changes))


def test_the_well_typed_runtime_loads() -> None:
    (loaded,) = load_text(runtime())

    container = loaded.spec.containers[0]
    assert (container.ports[0].container_port, loaded.spec.replicas, loaded.spec.multi_model) == (8001, 2, True)


@pytest.mark.parametrize(("field", "value", "message"), BAD_VALUES)
def test_a_value_of_another_json_type_is_refused_naming_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(runtime(**{field: value}), "rt.yaml")

    assert caught.value.message == f'rt.yaml, document 0: ServingRuntime "rt": field {FIELDS[field]}: {message}'


@pytest.mark.parametrize(("model", "message"), [
    ("{modelFormat: {name: 1}, storageUri: s3://b/m}", "field spec.predictor.model.modelFormat.name: " + STRING),
    ("{modelFormat: {name: sklearn}, storage: {key: k, path: m, parameters: {bucket: true}}}",
     "field spec.predictor.model.storage.parameters.bucket: " + STRING),
])
def test_inference_service_strings_take_no_other_type(model: str, message: str) -> None:
    text = f"""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {{name: m, annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}}}
spec: {{predictor: {{model: {model}}}}}
"""
    with pytest.raises(SpecError) as caught:
        load_text(text, "isvc.yaml")

    assert caught.value.message == f'isvc.yaml, document 0: InferenceService "m": {message}'


def test_labels_and_annotations_are_strings_only() -> None:
    with pytest.raises(SpecError, match=r"field metadata.labels.version: Input should be a valid string"):
        load_text(runtime().replace("metadata: {name: rt}", "metadata: {name: rt, labels: {version: 2}}"))


def test_quantities_still_take_yaml_numbers_as_kubernetes_does() -> None:
    text = runtime().replace("    image: x\n", "    image: x\n    resources: {limits: {cpu: 2, memory: 1Gi}}\n")

    (loaded,) = load_text(text)

    assert loaded.spec.containers[0].resources.limits == {"cpu": "2", "memory": "1Gi"}
