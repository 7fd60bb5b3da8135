"""Registry: desired state, concrete ids, and ModelMesh's runtime selection (§2.4 and the FVT rows)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.app import Emulator
from emulator.errors import InvalidArgumentError, SpecError
from emulator.registry import (
    ObjectNotFoundError,
    RegisteredModel,
    Registry,
    RuntimeSelectionError,
)
from emulator.settings import Settings
from emulator.spec import (
    InferenceService,
    InvalidPredictorSpecError,
    ObjectMeta,
    Predictor,
    ServingRuntime,
    StorageConfigSecret,
    load_file,
    load_paths,
    load_text,
)

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "modelmesh-examples" / "testdata"
NO_SUPPORTING_RUNTIME = "No ServingRuntime supports specified model type and/or protocol"
RUNTIME_NOT_RECOGNIZED = "Specified runtime name not recognized"


def upstream(relative: str) -> list:
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    return load_paths([TESTDATA / relative])


@pytest.fixture
def registry() -> Registry:
    """A registry holding upstream's four built-in ClusterServingRuntimes, as every FVT suite expects."""
    registry = Registry()
    for runtime in upstream("config/runtimes"):
        registry.apply(runtime)
    return registry


def runtime(name: str, formats: str, *, protocols: str = "[grpc-v2]", extra: str = "multiModel: true",
            kind: str = "ServingRuntime", namespace: str | None = None) -> ServingRuntime:
    """A minimal runtime; `formats` is the YAML flow list of supportedModelFormats."""
    ns = f"\n  namespace: {namespace}" if namespace else ""
    (obj,) = load_text(f"""
apiVersion: serving.kserve.io/v1alpha1
kind: {kind}
metadata:
  name: {name}{ns}
spec:
  supportedModelFormats: {formats}
  protocolVersions: {protocols}
  {extra}
  containers: [{{name: server, image: "img:1"}}]
""")
    return obj


def isvc(name: str = "my-model", *, model: str = "modelFormat: {name: sklearn}", storage: str | None = None,
         namespace: str | None = None) -> InferenceService:
    storage = storage or "storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}"
    ns = f"\n  namespace: {namespace}" if namespace else ""
    (obj,) = load_text(f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}{ns}
  annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}
spec:
  predictor:
    model:
      {model}
      {storage}
""")
    return obj


def predictor(name: str = "my-model", *, spec: str = "modelType: {name: sklearn}") -> Predictor:
    (obj,) = load_text(f"""
apiVersion: serving.kserve.io/v1alpha1
kind: Predictor
metadata: {{name: {name}}}
spec:
  {spec}
  path: fvt/sklearn/mnist-svm
  storage: {{s3: {{secretKey: localMinIO}}}}
""")
    return obj


def selected(registry: Registry, obj: InferenceService | Predictor) -> list[str]:
    registry.apply(obj)
    model = registry.model(obj.name, obj.namespace)
    assert model is not None
    return [rt.name for rt in registry.runtimes_for(model)]


def selection_error(registry: Registry, obj: InferenceService | Predictor) -> RuntimeSelectionError:
    with pytest.raises(RuntimeSelectionError) as caught:
        selected(registry, obj)
    return caught.value


# ---- applying, getting, deleting ------------------------------------------------------------------


def test_every_upstream_manifest_applies():
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    registry = Registry()
    objects = load_paths([TESTDATA])
    assert {registry.apply(obj).action for obj in objects} == {"created"}
    assert len(registry.models()) == sum(isinstance(o, InferenceService | Predictor) for o in objects)
    assert all(model.is_valid for model in registry.models())


def test_apply_reports_created_configured_unchanged_and_fills_namespaces():
    registry = Registry(default_namespace="team-a")
    first = registry.apply(isvc())
    assert first.action == "created" and first.obj.namespace == "team-a"
    assert registry.apply(isvc()).action == "unchanged"
    changed = registry.apply(isvc(storage="storage: {key: localMinIO, path: sklearn/other.joblib}"))
    assert changed.action == "configured" and changed.concrete_id_changed
    assert changed.previous_concrete_id == first.model.concrete_id
    cluster_runtime = registry.apply(runtime("rt", "[]", kind="ClusterServingRuntime", namespace="ignored"))
    assert cluster_runtime.obj.namespace is None


def test_metadata_only_change_keeps_the_concrete_id():
    registry = Registry()
    before = registry.apply(isvc()).model
    relabelled = isvc()
    relabelled.metadata.labels["team"] = "a"
    result = registry.apply(relabelled)
    assert result.action == "configured" and not result.concrete_id_changed
    assert result.model.concrete_id == before.concrete_id


def test_registry_keeps_a_private_copy():
    registry = Registry()
    obj = isvc()
    registry.apply(obj)
    obj.spec.predictor.model.model_format.name = "changed"
    assert registry.get("isvc", "my-model").spec.predictor.model.model_format.name == "sklearn"


def test_get_list_delete_accept_kubectl_kind_names():
    registry = Registry()
    registry.apply(isvc("a"))
    registry.apply(isvc("b", namespace="other"))
    registry.apply(runtime("cluster-rt", "[]", kind="ClusterServingRuntime"))
    assert registry.get("isvc", "a").name == "a"
    assert registry.get("inferenceservices", "b") is None  # lives in namespace "other"
    assert registry.get("InferenceService", "b", "other").name == "b"
    assert [o.name for o in registry.list("inferenceservice")] == ["a", "b"]
    assert [o.name for o in registry.list("isvcs", "other")] == ["b"]
    assert registry.get("clusterservingruntimes", "cluster-rt", "any-namespace").name == "cluster-rt"
    assert registry.list("servingruntimes") == []
    deleted = registry.delete("isvc", "a")
    assert deleted.name == "a" and registry.model("a") is None and registry.get("isvc", "a") is None
    not_found = 'InferenceService "a" not found in namespace "modelmesh-serving"'
    with pytest.raises(ObjectNotFoundError, match=not_found):
        registry.delete("isvc", "a")
    with pytest.raises(InvalidArgumentError, match='unknown resource type "pods"'):
        registry.list("pods")


def test_listeners_hear_added_modified_deleted_but_not_unchanged():
    registry = Registry()
    events: list[tuple[str, str]] = []
    unsubscribe = registry.subscribe(lambda event, obj: events.append((event, obj.name)))
    registry.apply(isvc())
    registry.apply(isvc())
    registry.apply(isvc(storage="storage: {key: k, path: p}"))
    registry.delete("isvc", "my-model")
    unsubscribe()
    registry.apply(isvc())
    assert events == [("added", "my-model"), ("modified", "my-model"), ("deleted", "my-model")]


def test_storage_config_per_namespace_and_only_the_configured_secret():
    registry = Registry()
    assert registry.storage_config() is None
    entries = {"pvc1": {"type": "pvc"}}
    secret = StorageConfigSecret(metadata=ObjectMeta(name="storage-config"), entries=entries)
    registry.apply(secret)
    assert registry.storage_config() == {"pvc1": {"type": "pvc"}}
    assert registry.storage_config("other") is None
    with pytest.raises(SpecError, match='only the storage config Secret "storage-config" is used'):
        registry.apply(StorageConfigSecret(metadata=ObjectMeta(name="db-password")))


def test_isvc_without_modelmesh_annotation_cannot_be_applied():
    obj = isvc()
    obj.metadata.annotations.clear()
    with pytest.raises(SpecError, match="only serves ModelMesh-mode InferenceServices"):
        Registry().apply(obj)


# ---- concrete ids and invalid specs ---------------------------------------------------------------


def test_concrete_id_reproduces_upstream_docs_vector():
    model = Registry().apply(isvc(
        "sklearn-pvc-example",
        model="modelFormat: {name: custom-model}\n      runtime: my-custom-model-0.x",
        storage="storage: {parameters: {type: pvc, name: my-models-pvc}, path: mnist-svm.joblib}",
    )).model
    assert model.concrete_id == "sklearn-pvc-example__isvc-72fbffc584"
    assert (model.owner, model.vmodel_id) == ("isvc", "sklearn-pvc-example")
    assert model.type_string == "rt:my-custom-model-0.x"


def test_concrete_id_is_stable_for_the_same_spec_and_changes_with_the_path():
    first, again = Registry().apply(predictor()).model, Registry().apply(predictor()).model
    assert first.concrete_id == again.concrete_id
    prefix = "my-model__ksp-"
    assert first.concrete_id.startswith(prefix) and len(first.concrete_id) == len(prefix) + 10
    moved = predictor()
    moved.spec.path = "fvt/sklearn/mnist-svm-dup"
    assert Registry().apply(moved).model.concrete_id != first.concrete_id


def test_invalid_isvc_is_recorded_not_refused():
    registry = Registry()
    result = registry.apply(isvc(storage="storageUri: s3://bucket/m\n      storage: {path: other}"))
    model = result.model
    assert result.action == "created" and model is registry.model("my-model")
    assert not model.is_valid and model.predictor is None and model.concrete_id is None
    assert "cannot have both the storageUri and the storage.path" in model.spec_error
    with pytest.raises(InvalidPredictorSpecError, match="cannot have both"):
        registry.runtimes_for(model)


def test_invalid_predictor_spec_keeps_its_concrete_id():
    invalid = predictor()
    invalid.spec.storage.path = "also/a/path"
    model = Registry().apply(invalid).model
    assert model.spec_error == "Only one of spec.path and spec.storage.path can be specified"
    assert model.concrete_id is not None


def test_isvc_and_predictor_with_the_same_name_conflict_until_the_owner_goes():
    registry = Registry()
    events: list[tuple[str, str]] = []
    registry.subscribe(lambda event, obj: events.append((event, obj.kind)))
    registry.apply(isvc())
    second = registry.apply(predictor()).model
    assert second.spec_error == "Predictor already exists with the same name from a different source"
    assert registry.model("my-model").kind == "InferenceService"
    assert registry.model("my-model", kind="predictor") == second
    registry.delete("isvc", "my-model")
    owner = registry.model("my-model")
    assert owner.kind == "Predictor" and owner.is_valid
    assert events[-2:] == [("deleted", "InferenceService"), ("modified", "Predictor")]


# ---- runtime labels and type constraints ----------------------------------------------------------


def test_runtime_labels_follow_mm_labels(registry: Registry):
    mlserver = registry.runtime("mlserver-1.x")
    assert registry.runtime_labels(mlserver) == {
        "mt:sklearn", "mt:sklearn:0", "mt:xgboost", "mt:xgboost:1", "mt:lightgbm", "mt:lightgbm:3",
        "pv:grpc-v2", "pv:v2", "rt:mlserver-1.x",
    }
    triton_labels = registry.runtime_labels(registry.runtime("triton-2.x"))
    assert "mt:onnx:1" in triton_labels and "mt:sklearn" not in triton_labels  # sklearn is autoSelect: false
    assert "pv:v2" not in Registry(rest_proxy_enabled=False).runtime_labels(mlserver)


def test_type_constraints_cover_enabled_multimodel_runtimes_only():
    registry = Registry()
    registry.apply(runtime("mlserver-1.x", '[{name: sklearn, version: "0", autoSelect: true}]'))
    disabled = "multiModel: true\n  disabled: true"
    registry.apply(runtime("disabled-rt", "[{name: foo, autoSelect: true}]", extra=disabled))
    registry.apply(runtime("single", "[{name: bar, autoSelect: true}]", extra="multiModel: false"))
    assert registry.type_constraints() == {
        "_default": {"required": ["_no_runtime"]},
        "mt:sklearn": {"required": ["mt:sklearn"]},
        "mt:sklearn:0": {"required": ["mt:sklearn:0"]},
        "mt:sklearn:0|pv:grpc-v2": {"required": ["mt:sklearn:0", "pv:grpc-v2"]},
        "mt:sklearn:0|pv:v2": {"required": ["mt:sklearn:0", "pv:v2"]},
        "mt:sklearn|pv:grpc-v2": {"required": ["mt:sklearn", "pv:grpc-v2"]},
        "mt:sklearn|pv:v2": {"required": ["mt:sklearn", "pv:v2"]},
        "rt:mlserver-1.x": {"required": ["rt:mlserver-1.x"]},
    }


# ---- selection: §2.4 rules and the FVT rows --------------------------------------------------------


@pytest.mark.parametrize(
    ("model_type", "runtimes"),
    [
        ("sklearn", ["mlserver-1.x"]),
        ("xgboost", ["mlserver-1.x"]),
        ("lightgbm", ["mlserver-1.x"]),
        ("onnx", ["triton-2.x"]),
        ("tensorflow", ["triton-2.x"]),
        ("keras", ["triton-2.x"]),
        ("openvino_ir", ["ovms-1.x"]),
        ("pytorch-mar", ["torchserve-0.x"]),
    ],
)
def test_model_type_selects_the_autoselect_runtime(registry: Registry, model_type: str, runtimes: list[str]):
    assert selected(registry, predictor(spec=f"modelType: {{name: {model_type}}}")) == runtimes


def test_upstream_predictors_select_as_in_the_fvt(registry: Registry):
    for obj in upstream("predictors"):
        registry.apply(obj)
    choice = {
        m.name: [rt.name for rt in registry.runtimes_for(m)]
        for m in registry.models()
        if m.name != "foo-predictor"
    }
    assert choice["xgboost-fil-mushroom"] == ["triton-2.x"]  # explicit runtime for an autoSelect-false format
    assert choice["pytorch-mar-predictor"] == ["torchserve-0.x"]
    assert choice["ovms-test-predictor"] == ["ovms-1.x"]
    assert choice["mlserver-sklearn-mnist-svm"] == ["mlserver-1.x"]


def test_unrecognized_model_type_is_no_supporting_runtime(registry: Registry):
    error = selection_error(registry, predictor(spec="modelType: {name: invalidModelType}"))
    assert (error.reason, error.message) == ("NoSupportingRuntime", NO_SUPPORTING_RUNTIME)


def test_unrecognized_runtime_is_runtime_not_recognized(registry: Registry):
    obj = predictor(spec="modelType: {name: sklearn}\n  runtime: {name: invalidRuntimeType}")
    error = selection_error(registry, obj)
    assert (error.reason, error.message) == ("RuntimeNotRecognized", RUNTIME_NOT_RECOGNIZED)


def test_autoselect_false_format_only_via_explicit_runtime(registry: Registry):
    assert selected(registry, isvc()) == ["mlserver-1.x"]
    explicit = isvc(model="modelFormat: {name: sklearn}\n      runtime: triton-2.x")
    assert selected(registry, explicit) == ["triton-2.x"]


def test_explicit_runtime_skips_format_version_and_protocol_checks(registry: Registry):
    anything = isvc(model="modelFormat: {name: nonsense, version: '9'}\n      runtime: ovms-1.x\n"
                          "      protocolVersion: v1")
    assert selected(registry, anything) == ["ovms-1.x"]


def test_onnx_is_served_by_triton_or_explicitly_by_ovms(registry: Registry):
    assert selected(registry, isvc(model="modelFormat: {name: onnx}")) == ["triton-2.x"]
    explicit = isvc(model="modelFormat: {name: onnx}\n      runtime: ovms-1.x")
    assert selected(registry, explicit) == ["ovms-1.x"]


@pytest.mark.parametrize(("version", "runtimes"), [("'0'", ["mlserver-1.x"]), ("'1'", []), ("'0.23'", [])])
def test_version_matches_exactly(registry: Registry, version: str, runtimes: list[str]):
    obj = isvc(model=f"modelFormat: {{name: sklearn, version: {version}}}")
    if runtimes:
        assert selected(registry, obj) == runtimes
    else:
        assert selection_error(registry, obj).reason == "NoSupportingRuntime"


@pytest.mark.parametrize(("protocol", "rest_proxy", "runtimes"), [
    ("grpc-v2", True, ["mlserver-1.x"]),
    ("v2", True, ["mlserver-1.x"]),
    ("v2", False, []),
    ("v1", True, []),
    ("grpc-v1", True, []),
])
def test_protocol_version_must_be_advertised(protocol: str, rest_proxy: bool, runtimes: list[str]):
    registry = Registry(rest_proxy_enabled=rest_proxy)
    for obj in upstream("config/runtimes"):
        registry.apply(obj)
    obj = isvc(model=f"modelFormat: {{name: sklearn}}\n      protocolVersion: {protocol}")
    if runtimes:
        assert selected(registry, obj) == runtimes
    else:
        assert selection_error(registry, obj).reason == "NoSupportingRuntime"


def test_non_modelmesh_runtime_is_never_selected(registry: Registry):
    (non_mm,) = upstream("runtimes")
    registry.apply(non_mm)
    (foo,) = load_file(TESTDATA / "predictors/foo-predictor.yaml")
    assert selection_error(registry, foo).reason == "NoSupportingRuntime"
    assert registry.runtime("non-mm-runtime") is not None
    assert "rt:non-mm-runtime" not in registry.type_constraints()


def test_disabled_runtime_is_never_selected_even_by_name():
    registry = Registry()
    disabled = "multiModel: true\n  disabled: true"
    registry.apply(runtime("rt", "[{name: foo, autoSelect: true}]", extra=disabled))
    assert selection_error(registry, predictor(spec="modelType: {name: foo}")).reason == "NoSupportingRuntime"
    by_name = predictor(spec="modelType: {name: foo}\n  runtime: {name: rt}")
    assert selection_error(registry, by_name).reason == "RuntimeNotRecognized"


def test_namespaced_runtime_shadows_the_cluster_runtime(registry: Registry):
    registry.apply(runtime("mlserver-1.x", "[{name: custom, autoSelect: true}]", namespace="team-a"))
    custom = isvc(model="modelFormat: {name: custom}", namespace="team-a")
    assert selected(registry, custom) == ["mlserver-1.x"]
    assert selection_error(registry, isvc(namespace="team-a")).reason == "NoSupportingRuntime"
    # other namespaces still see the cluster runtime
    assert selected(registry, isvc(namespace="team-b")) == ["mlserver-1.x"]
    assert registry.runtime("mlserver-1.x", "team-a").is_cluster_scoped is False
    assert "mt:sklearn" not in registry.type_constraints("team-a")


def test_several_candidates_are_sorted_by_name(registry: Registry):
    registry.apply(runtime("a-sklearn", "[{name: sklearn, autoSelect: true}]"))
    assert selected(registry, isvc()) == ["a-sklearn", "mlserver-1.x"]
    registry.delete("servingruntime", "a-sklearn")
    assert selected(registry, isvc()) == ["mlserver-1.x"]


def test_a_thousand_isvcs_stay_cheap(registry: Registry):
    started = time.perf_counter()
    for index in range(1000):
        registry.apply(isvc(f"model-{index}", storage=f"storage: {{key: localMinIO, path: m/{index}}}"))
    models: list[RegisteredModel] = registry.models()
    assert all(registry.runtimes_for(m)[0].name == "mlserver-1.x" for m in models)
    assert len({m.concrete_id for m in models}) == 1000
    assert time.perf_counter() - started < 5


def _adapted_runtime(name: str, server_type: str) -> ServingRuntime:
    (obj,) = load_text(f"""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {{name: {name}}}
spec:
  supportedModelFormats: [{{name: sklearn}}]
  multiModel: true
  builtInAdapter: {{serverType: {server_type}}}
  containers: [{{name: {server_type}, image: "img:1"}}]
""", built_in_server_types=[server_type])
    return obj


def test_the_emulator_validates_runtimes_with_its_configured_built_in_server_types(tmp_path: Path):
    emulator = Emulator(Settings(built_in_server_types=["mlserver", "custom"], launcher="process",
                                 api_enabled=False, cache_dir=tmp_path))

    assert emulator.registry.apply(_adapted_runtime("rt", "custom")).action == "created"
    with pytest.raises(SpecError, match="unrecognized built-in runtime server type triton"):
        emulator.registry.apply(_adapted_runtime("rt2", "triton"))
