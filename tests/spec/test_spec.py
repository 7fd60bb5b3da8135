"""Manifests: upstream files load unchanged; quantities; ISVC → PredictorSpec; errors say where and why."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from emulator.errors import SpecError
from emulator.spec import (
    Endpoint,
    InferenceService,
    InvalidPredictorSpecError,
    Predictor,
    PredictorSpec,
    ServingRuntime,
    StorageConfigSecret,
    load_file,
    load_paths,
    load_text,
    parse_endpoint,
    parse_quantity,
    predictor_spec_hash,
    predictor_spec_json,
    resolve_kind,
    serialize,
    to_bytes,
    to_millicores,
)

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "modelmesh-examples" / "testdata"
UPSTREAM_DIRS = {
    "config/runtimes": "ClusterServingRuntime",
    "config/example-isvcs": "InferenceService",
    "isvcs": "InferenceService",
    "predictors": "Predictor",
    "runtimes": "ServingRuntime",
}


def _upstream_files() -> list:
    if not TESTDATA.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"{TESTDATA} is absent"))]
    return [
        pytest.param(path, kind, id=str(path.relative_to(TESTDATA)))
        for directory, kind in UPSTREAM_DIRS.items()
        for path in sorted((TESTDATA / directory).glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]


def isvc_yaml(predictor: str, *, annotations: str = "", name: str = "my-model") -> str:
    """An InferenceService document in ModelMesh mode; `predictor` is the YAML under spec.predictor."""
    body = "\n".join("    " + line for line in predictor.strip().splitlines())
    extra = "\n".join("    " + line for line in annotations.strip().splitlines())
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    serving.kserve.io/deploymentMode: ModelMesh
{extra}
spec:
  predictor:
{body}
"""


def load_one(text: str):
    (obj,) = load_text(text, "test.yaml")
    return obj


def spec_error(text: str, source: str = "test.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_text(text, source)
    return caught.value


RUNTIME_YAML = """
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: my-runtime
spec:
  supportedModelFormats:
    - {name: custom, version: "1", autoSelect: true}
  multiModel: true
  grpcEndpoint: "port:8085"
  grpcDataEndpoint: "port:8001"
  containers:
    - name: mlserver
      image: my-image:1
      resources:
        requests: {cpu: 500m, memory: 512Mi}
        limits: {cpu: 1, memory: 1Gi}
  builtInAdapter:
    serverType: mlserver
    runtimeManagementPort: 8001
    memBufferBytes: 134217728
"""


# ---- upstream manifests -------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind"), _upstream_files())
def test_upstream_manifest_loads_unchanged(path: Path, kind: str):
    raw = yaml.safe_load(path.read_text())
    (obj,) = load_file(path)
    assert (obj.kind, obj.name) == (kind, raw["metadata"]["name"])
    assert (obj.source, obj.document) == (str(path), 0)
    if isinstance(obj, InferenceService):
        assert obj.to_predictor_spec().model_type.name


def test_upstream_testdata_directory_loads_with_kustomization_skipped():
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    objects = load_paths([TESTDATA])
    runtimes = sorted(obj.name for obj in objects if obj.kind == "ClusterServingRuntime")
    assert runtimes == ["mlserver-1.x", "ovms-1.x", "torchserve-0.x", "triton-2.x"]
    assert len(objects) == sum(
        1 for d in UPSTREAM_DIRS for p in (TESTDATA / d).glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_upstream_mlserver_runtime_fields():
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    (runtime,) = load_file(TESTDATA / "config/runtimes/mlserver-1.x.yaml")
    assert isinstance(runtime, ServingRuntime) and runtime.is_cluster_scoped
    spec = runtime.spec
    assert [(f.name, f.version, f.auto_select) for f in spec.supported_model_formats] == [
        ("sklearn", "0", True), ("xgboost", "1", True), ("lightgbm", "3", True),
    ]
    assert spec.protocol_versions == ["grpc-v2"] and spec.is_multi_model and not spec.is_disabled
    assert spec.management_endpoint == Endpoint(port=8085)
    assert spec.data_endpoint == Endpoint(port=8001)
    adapter = spec.built_in_adapter
    assert adapter is not None
    assert (adapter.server_type, adapter.runtime_management_port) == ("mlserver", 8001)
    assert (adapter.mem_buffer_bytes, adapter.model_loading_timeout_millis) == (134217728, 90000)
    container = spec.container("mlserver")
    assert container is not None
    assert container.memory_request_bytes == container.memory_limit_bytes == 1024**3
    assert container.cpu_request_millicores == 500
    assert container.env_dict()["MLSERVER_MODELS_DIR"] == "/models/_mlserver_models/"


def test_upstream_ovms_unquoted_cpu_limit_is_kept_as_text():
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    (runtime,) = load_file(TESTDATA / "config/runtimes/ovms-1.x.yaml")
    assert runtime.spec.containers[0].resources.limits["cpu"] == "5"


# ---- quantities and endpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("1Gi", Decimal(2**30)), ("128Mi", Decimal(128 * 2**20)), ("500m", Decimal("0.5")),
        ("1e3", Decimal(1000)), ("1.5G", Decimal(1_500_000_000)), ("2", Decimal(2)), (3, Decimal(3)),
        (0.25, Decimal("0.25")), ("100k", Decimal(100_000)), ("1E", Decimal(10**18)), ("1E2", Decimal(100)),
    ],
)
def test_parse_quantity(quantity, value):
    assert parse_quantity(quantity) == value


def test_quantity_conversions_round_up():
    assert to_bytes("1Gi") == 1073741824
    assert to_bytes("0.5") == 1
    assert to_millicores("500m") == 500
    assert to_millicores("1.0001") == 1001
    assert to_millicores(2) == 2000


@pytest.mark.parametrize("bad", ["1Gx", "", "Gi", "1 Gi", "1.2.3", "--1", True])
def test_bad_quantity_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(bad)


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("port:8001", Endpoint(port=8001)),
        ("unix:/tmp/mm/runtime.sock", Endpoint(socket_path="/tmp/mm/runtime.sock")),
        ("unix:///tmp/mm/runtime.sock", Endpoint(socket_path="/tmp/mm/runtime.sock")),
    ],
)
def test_parse_endpoint(text, endpoint):
    assert parse_endpoint(text) == endpoint


def test_parse_endpoint_rejects_a_bad_port():
    with pytest.raises(ValueError, match="port:abc"):
        parse_endpoint("port:abc")
    assert parse_endpoint("unix:/a/b.sock").socket_dir == "/a"


# ---- error paths: file, document, field, cause -----------------------------------------------------


def test_malformed_yaml_names_file_document_and_line():
    text = RUNTIME_YAML + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: [unclosed\n"
    error = spec_error(text, "runtimes/bad.yaml")
    assert error.source == "runtimes/bad.yaml" and error.document == 1
    assert "invalid YAML at line" in error.cause
    assert str(error).startswith("runtimes/bad.yaml, document 1: invalid YAML at line")


def test_unknown_kind_lists_supported_kinds():
    error = spec_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert error.field == "kind"
    assert "unsupported kind ConfigMap" in str(error)
    for kind in ("ServingRuntime", "ClusterServingRuntime", "InferenceService", "Predictor", "Secret"):
        assert kind in error.cause


def test_missing_api_version_and_wrong_api_version():
    missing = spec_error("kind: Predictor\nmetadata: {name: x}\n")
    assert (missing.field, missing.cause) == ("apiVersion", "apiVersion is missing")
    wrong = spec_error(RUNTIME_YAML.replace("serving.kserve.io/v1alpha1", "serving.kserve.io/v1beta1"))
    assert wrong.field == "apiVersion"
    assert "not valid for kind ServingRuntime (expected serving.kserve.io/v1alpha1)" in wrong.cause


def test_missing_containers_names_the_field():
    text = RUNTIME_YAML.split("  containers:")[0].replace("  builtInAdapter", "  x")
    error = spec_error(f"---\n---\n{text}", "rt.yaml")
    # the empty document 0 still counts, so the index matches the file
    assert (error.source, error.document, error.field) == ("rt.yaml", 1, "spec.containers")
    assert 'ServingRuntime "my-runtime"' in str(error)
    assert "Field required" in error.cause


def test_bad_quantity_names_the_resource_field():
    error = spec_error(RUNTIME_YAML.replace("memory: 512Mi", "memory: 512MB"))
    assert error.field == "spec.containers[0].resources.requests.memory"
    assert "invalid quantity '512MB'" in error.cause


def test_names_must_be_kubernetes_names():
    text = PREDICTOR_YAML.replace("metadata: {name: p}", "metadata: {name: My_Model, namespace: team-a}")
    error = spec_error(text)
    assert error.field == "metadata.name"
    assert error.cause.startswith("invalid name 'My_Model': a lowercase RFC 1123 subdomain")


def test_several_validation_problems_in_one_message():
    text = RUNTIME_YAML.replace("runtimeManagementPort: 8001", "runtimeManagementPort: eighty").replace(
        "image: my-image:1", "image: [a, b]"
    )
    error = spec_error(text)
    assert "2 problems" in error.cause
    assert "spec.containers[0].image" in error.cause
    assert "spec.builtInAdapter.runtimeManagementPort" in error.cause


def test_bad_storage_json_names_the_key_but_never_the_value():
    text = """
apiVersion: v1
kind: Secret
metadata: {name: storage-config}
stringData:
  localMinIO: '{"type": "s3", "secret_access_key": "TOPSECRET",'
"""
    error = spec_error(text)
    assert error.field == "stringData.localMinIO"
    assert "not valid JSON" in error.cause
    assert "TOPSECRET" not in str(error)


def test_isvc_without_modelmesh_annotation_is_refused():
    text = isvc_yaml("model: {modelFormat: {name: sklearn}, storageUri: s3://b/m}").replace(
        "serving.kserve.io/deploymentMode: ModelMesh", "serving.kserve.io/deploymentMode: Serverless"
    )
    error = spec_error(text)
    assert error.field == "metadata.annotations[serving.kserve.io/deploymentMode]"
    assert "only serves ModelMesh-mode InferenceServices" in error.cause


def test_isvc_with_storage_uri_and_path_loads_but_cannot_convert():
    isvc = load_one(isvc_yaml("""
model:
  modelFormat: {name: sklearn}
  storageUri: s3://bucket/model
  storage: {key: localMinIO, path: other/path}
"""))
    both = r"cannot have both the storageUri and the storage\.path"
    with pytest.raises(InvalidPredictorSpecError, match=both):
        isvc.to_predictor_spec()


def test_missing_file_and_list_item_errors():
    missing = Path("/nonexistent/dir/file.yaml")
    with pytest.raises(SpecError, match="no such file or directory") as caught:
        load_paths([missing])
    assert caught.value.source == str(missing)
    error = spec_error("apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Pod, metadata: {}}\n")
    assert error.field == "items[0].kind"


# ---- ServingRuntime validation (upstream servingruntime_validator.go) ------------------------------


@pytest.mark.parametrize(
    ("change", "field", "cause"),
    [
        (("serverType: mlserver", "serverType: seldon"), "spec.builtInAdapter.serverType",
         "unrecognized built-in runtime server type seldon"),
        (("- name: mlserver", "- name: server"), "spec.containers",
         "must include runtime container with name mlserver"),
        (("image: my-image:1", "image: x\n    - name: mm"), "spec.containers[1].name",
         "container spec for mm is invalid: container name mm is reserved for internal use"),
        (("image: my-image:1", "image: x\n    - name: mm-sidecar"), "spec.containers[1].name",
         'container name cannot start with "mm-"'),
        (("image: my-image:1", "image: x\n      readinessProbe: {exec: {command: [true]}}"),
         "spec.containers[0].readinessProbe", "ReadinessProbe and Lifecycle are managed by modelmesh"),
        (("grpcEndpoint: \"port:8085\"", "grpcEndpoint: unix:/tmp/adapter.sock"), "spec.grpcEndpoint",
         'Built-in adapter grpcEndpoint must be of the form "port:N"'),
        (("image: my-image:1", "image: x\n      ports: [{containerPort: 8080}]"),
         "spec.containers[0].ports[0].containerPort", "Port 8080 is reserved for internal use"),
    ],
)
def test_serving_runtime_validation(change, field, cause):
    error = spec_error(RUNTIME_YAML.replace(*change))
    assert error.field == field
    assert cause in error.cause


def test_built_in_server_types_are_configurable():
    text = RUNTIME_YAML.replace("mlserver", "custom")
    assert load_text(text, built_in_server_types=["custom"])[0].spec.built_in_adapter.server_type == "custom"
    with pytest.raises(SpecError, match="unrecognized built-in runtime server type custom"):
        load_text(text)


# ---- InferenceService → PredictorSpec (upstream inferenceservice_registry.go) ----------------------


@pytest.mark.parametrize(
    ("uri", "path", "parameters"),
    [
        ("s3://my-bucket/sklearn/m.joblib", "sklearn/m.joblib", {"type": "s3", "bucket": "my-bucket"}),
        ("gs://gbucket/a/b", "a/b", {"type": "gcs", "bucket": "gbucket"}),
        ("pvc://models-pvc-1/sklearn/m.joblib", "sklearn/m.joblib", {"type": "pvc", "name": "models-pvc-1"}),
        (
            "https://acct.blob.core.windows.net/cont/some/path",
            "some/path",
            {"type": "azure", "account_name": "acct", "container": "cont"},
        ),
        ("https://host.example/x/m.joblib?raw=true", "", {"type": "http", "url": "https://host.example/x/m.joblib?raw=true"}),
    ],
)
def test_storage_uri_schemes(uri, path, parameters):
    isvc = load_one(isvc_yaml(f"model: {{modelFormat: {{name: sklearn}}, storageUri: '{uri}'}}"))
    storage = isvc.to_predictor_spec().storage
    assert (storage.path, storage.parameters, storage.key) == (path, parameters, None)


def test_unsupported_storage_uri_scheme():
    isvc = load_one(isvc_yaml("model: {modelFormat: {name: sklearn}, storageUri: 'ftp://host/m'}"))
    with pytest.raises(InvalidPredictorSpecError, match="has an unsupported storageUri scheme ftp"):
        isvc.to_predictor_spec()


def test_new_format_full_conversion():
    isvc = load_one(isvc_yaml("""
model:
  modelFormat: {name: sklearn, version: "0"}
  runtime: mlserver-1.x
  protocolVersion: grpc-v2
  storageUri: s3://uri-bucket/model.joblib
  storage:
    key: fromStorage
    schemaPath: schema/s.json
    parameters: {bucket: param-bucket, region: eu}
""", annotations="serving.kserve.io/secretKey: fromAnnotation\nserving.kserve.io/schemaPath: ann.json"))
    spec = isvc.to_predictor_spec()
    assert (spec.model_type.name, spec.model_type.version) == ("sklearn", "0")
    assert (spec.runtime_name, spec.protocol_version, spec.path) == ("mlserver-1.x", "grpc-v2", "")
    assert spec.storage.key == "fromStorage"  # storage.key wins over the annotation
    assert spec.storage.schema_path == "schema/s.json"
    assert spec.storage.parameters == {"bucket": "uri-bucket", "region": "eu", "type": "s3"}  # URI wins


def test_annotations_supply_secret_key_and_schema_path():
    isvc = load_one(isvc_yaml(
        "model: {modelFormat: {name: onnx}, storage: {path: onnx/m}}",
        annotations="serving.kserve.io/secretKey: localMinIO\nserving.kserve.io/schemaPath: s.json",
    ))
    storage = isvc.to_predictor_spec().storage
    assert (storage.key, storage.schema_path, storage.parameters) == ("localMinIO", "s.json", {})


def test_old_format_uses_framework_name_and_runtime_annotation():
    isvc = load_one(isvc_yaml(
        "xgboost: {storageUri: 's3://b/x.json', protocolVersion: grpc-v2}",
        annotations="serving.kserve.io/servingRuntime: triton-2.x",
    ))
    spec = isvc.to_predictor_spec()
    assert (spec.model_type.name, spec.runtime_name) == ("xgboost", "triton-2.x")
    assert spec.protocol_version == "grpc-v2"


@pytest.mark.parametrize(
    ("predictor", "annotations", "message"),
    [
        ("model: {modelFormat: {name: a}, storageUri: 's3://b/m'}\nsklearn: {storageUri: 's3://b/m'}", "",
         "cannot have both the model spec and a framework spec (sklearn)"),
        ("model: {modelFormat: {name: a}, storageUri: 's3://b/m'}", "serving.kserve.io/servingRuntime: r",
         "cannot have both the model spec and the runtime annotation serving.kserve.io/servingRuntime"),
        ("paddle: {storageUri: 's3://b/m'}", "", "no valid InferenceService predictor framework found"),
        ("model: {modelFormat: {name: a}}", "", "must have either the storageUri or the storage.path"),
    ],
)
def test_invalid_isvc_specs_use_upstream_messages(predictor, annotations, message):
    isvc = load_one(isvc_yaml(predictor, annotations=annotations))
    with pytest.raises(InvalidPredictorSpecError, match=re.escape(message)):
        isvc.to_predictor_spec()


# ---- Predictor -----------------------------------------------------------------------------------


PREDICTOR_YAML = """
apiVersion: serving.kserve.io/v1alpha1
kind: Predictor
metadata: {name: p}
spec:
  modelType: {name: sklearn}
  path: fvt/sklearn/mnist-svm
  storage:
    s3: {secretKey: localMinIO, bucket: my-bucket}
"""


def test_predictor_storage_location_resolves_deprecated_fields():
    predictor = load_one(PREDICTOR_YAML)
    assert isinstance(predictor, Predictor) and predictor.spec.validation_error() is None
    location = predictor.spec.storage_location()
    assert (location.path, location.storage_key, location.storage_params) == (
        "fvt/sklearn/mnist-svm", "localMinIO", {"bucket": "my-bucket"},
    )


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("{path: a/b}", "Only one of spec.path and spec.storage.path can be specified"),
        ("{s3: {secretKey: k}, key: k2}",
         "spec.storage.s3 cannot be specified with any other keys in spec.storage"),
        ("{persistentVolumeClaim: {claimName: c}}", "spec.storage.PersistentVolumeClaim is not supported"),
    ],
)
def test_predictor_invalid_specs(storage, message):
    text = PREDICTOR_YAML.split("  storage:")[0] + f"  storage: {storage}\n"
    assert load_one(text).spec.validation_error() == message


# ---- Go JSON hash input ---------------------------------------------------------------------------


def test_concrete_id_hash_reproduces_upstream_docs_vector():
    isvc = load_one(isvc_yaml("""
model:
  modelFormat: {name: custom-model}
  runtime: my-custom-model-0.x
  storage:
    parameters: {type: pvc, name: my-models-pvc}
    path: mnist-svm.joblib
""", name="sklearn-pvc-example"))
    spec = isvc.to_predictor_spec()
    assert predictor_spec_json(spec) == (
        b'{"modelType":{"name":"custom-model"},"path":"","storage":{"path":"mnist-svm.joblib",'
        b'"parameters":{"name":"my-models-pvc","type":"pvc"}},"runtime":{"name":"my-custom-model-0.x"}}'
    )
    assert predictor_spec_hash(spec) == "72fbffc584"


def test_go_json_escapes_html_characters_and_orders_fields():
    spec = PredictorSpec.model_validate(
        {
            "protocolVersion": "v2",
            "runtime": {"name": "r"},
            "schemaPath": "a<b>&c",
            "modelType": {"name": "m"},
        }
    )
    assert predictor_spec_json(spec) == (
        b'{"modelType":{"name":"m"},"path":"","schemaPath":"a\\u003cb\\u003e\\u0026c",'
        b'"runtime":{"name":"r"},"protocolVersion":"v2"}'
    )


# ---- Secret, kinds, loader details, serialisation --------------------------------------------------


def test_storage_config_secret_from_data_and_string_data():
    encoded = base64.b64encode(json.dumps({"type": "pvc", "name": "from-data"}).encode()).decode()
    secret = load_one(f"""
apiVersion: v1
kind: Secret
metadata: {{name: storage-config}}
data:
  pvc1: {encoded}
  shared: {encoded}
stringData:
  shared: '{{"type": "pvc", "name": "from-string-data"}}'
""")
    assert isinstance(secret, StorageConfigSecret)
    assert secret.entries == {
        "pvc1": {"type": "pvc", "name": "from-data"},
        "shared": {"type": "pvc", "name": "from-string-data"},
    }


def test_other_secrets_are_refused_and_the_name_is_configurable():
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: db-password}\nstringData: {}\n"
    error = spec_error(text)
    assert error.cause == (
        'unsupported Secret "db-password": only the storage config Secret "storage-config" is used'
    )
    assert load_text(text, storage_secret_name="db-password")[0].entries == {}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("isvc", "InferenceService"), ("inferenceservices", "InferenceService"),
        ("ServingRuntime", "ServingRuntime"), ("clusterservingruntimes", "ClusterServingRuntime"),
        ("predictor", "Predictor"), ("secrets", "Secret"),
    ],
)
def test_resolve_kind(name, kind):
    assert resolve_kind(name) == kind


def test_multi_document_list_and_empty_documents():
    text = f"---\n# nothing\n---\n{PREDICTOR_YAML}\n---\napiVersion: v1\nkind: List\nitems:\n" + "".join(
        f"- {json.dumps(yaml.safe_load(PREDICTOR_YAML) | {'metadata': {'name': n}})}\n" for n in ("a", "b")
    )
    objects = load_text(text, "many.yaml")
    assert [(o.name, o.document) for o in objects] == [("p", 1), ("a", 2), ("b", 2)]


def test_directories_are_walked_recursively_in_sorted_order(tmp_path: Path):
    for relative, name in [("b/z.yaml", "z"), ("a.yml", "a"), ("b/c/y.yaml", "y"), (".hidden/h.yaml", "h")]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PREDICTOR_YAML.replace("name: p", f"name: {name}"))
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yml]\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    assert [o.name for o in load_paths([tmp_path])] == ["a", "y", "z"]


def test_serialize_round_trips_and_equality_ignores_location():
    original = load_one(RUNTIME_YAML)
    document = serialize(original)
    assert list(document)[:3] == ["apiVersion", "kind", "metadata"]
    assert document["spec"]["builtInAdapter"]["serverType"] == "mlserver"
    assert "source" not in document and "document" not in document
    (again,) = load_text(yaml.safe_dump(document), "elsewhere.yaml")
    assert again == original and again.source != original.source


def test_serialized_secret_loads_back():
    secret = StorageConfigSecret(metadata={"name": "storage-config"}, entries={"s3": {"type": "s3"}})
    (again,) = load_text(yaml.safe_dump(serialize(secret)))
    assert again == secret
