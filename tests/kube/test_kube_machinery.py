"""The Kubernetes machinery checked against upstream: printer columns, discovery names and OpenAPI schemas
agree with ModelMesh's CRDs (../shared/modelmesh-crds), and every upstream example manifest
(../shared/modelmesh-examples/testdata) passes both the CRD schema and the emulator's with no unknown field.
Plus the pure parts: selectors, patches, printer JSONPath, protobuf Secrets."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from emulator.control.tables import COLUMNS
from emulator.kube import discovery, fields, openapi
from emulator.kube.jsonpath import first
from emulator.kube.patch import JSON_PATCH, MERGE, apply_conflicts, apply_patch, merge_patch
from emulator.kube.protobuf import MAGIC, decode_object
from emulator.kube.resources import RESOURCES, Resource, resource_for_kind
from emulator.kube.selectors import SelectorError, matcher
from emulator.spec.kinds import MODEL_BY_KIND
from tests.conftest import SHARED, UPSTREAM_EXAMPLES

CRDS = SHARED / "modelmesh-crds"


def crds() -> list[dict[str, Any]]:
    if not CRDS.is_dir():
        pytest.skip("../shared/modelmesh-crds is not present")
    return [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]


def upstream_manifests() -> list[tuple[Path, dict[str, Any]]]:
    if not UPSTREAM_EXAMPLES.is_dir():
        pytest.skip("../shared/modelmesh-examples is not present")
    found = []
    for path in sorted((UPSTREAM_EXAMPLES / "testdata").rglob("*.y*ml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text())
                  if isinstance(doc, dict) and doc.get("kind") in MODEL_BY_KIND and doc["kind"] != "Secret"]
    return found


def model_of(resource: Resource) -> Any:
    return MODEL_BY_KIND[resource.kind]


def test_printer_columns_are_the_crds() -> None:
    for crd in crds():
        kind = crd["spec"]["names"]["kind"]
        version = crd["spec"]["versions"][0]
        upstream = [(c["name"], c["type"], c["jsonPath"]) for c in version["additionalPrinterColumns"]]
        served = [(c.name, c.type, c.cell.jsonpath) for c in COLUMNS[kind] if c.priority == 0 and c.name != "Name"]
        assert served == upstream, kind


def test_discovery_names_scopes_and_subresources_are_the_crds() -> None:
    for crd in crds():
        names, version = crd["spec"]["names"], crd["spec"]["versions"][0]
        resource = resource_for_kind(names["kind"])
        listed = discovery.api_resource_list(crd["spec"]["group"], version["name"])
        assert listed is not None
        entries = {entry["name"]: entry for entry in listed["resources"]}
        entry = entries[names["plural"]]
        assert (entry["kind"], entry["singularName"], entry["namespaced"]) == (
            names["kind"], names["singular"], crd["spec"]["scope"] == "Namespaced")
        assert entry.get("shortNames", []) == names.get("shortNames", [])
        assert (f"{names['plural']}/status" in entries) == ("status" in version.get("subresources", {}))
        assert resource.status_subresource == ("status" in version.get("subresources", {}))


def test_upstream_manifests_pass_the_crd_schema_and_ours_with_no_unknown_field() -> None:
    schemas = {crd["spec"]["names"]["kind"]: crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
               for crd in crds()}
    checked = 0
    for path, manifest in upstream_manifests():
        kind = manifest["kind"]
        resource = resource_for_kind(kind)
        document = openapi.openapi_v3_document([resource], model_of)
        name = next(key for key, schema in document["components"]["schemas"].items()
                    if schema.get("x-kubernetes-group-version-kind", [{}])[0].get("kind") == kind)
        ours = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.Draft7Validator(schemas[kind]).validate(manifest)
        jsonschema.Draft7Validator(ours).validate(manifest)
        assert fields.unknown_fields(manifest, MODEL_BY_KIND[kind]) == [], path
        checked += 1
    assert checked >= 5


def test_openapi_advertises_field_validation_and_no_strategic_merge_for_custom_resources() -> None:
    index = openapi.openapi_v3_index(RESOURCES, model_of)
    isvcs = openapi.group_version_resources(RESOURCES, "apis/serving.kserve.io/v1beta1")
    patch = openapi.openapi_v3_document(isvcs, model_of)["paths"][
        "/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}"]["patch"]

    assert set(index["paths"]) == {"api/v1", "apis/serving.kserve.io/v1alpha1", "apis/serving.kserve.io/v1beta1"}
    assert index["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert sorted(patch["requestBody"]["content"]) == ["application/apply-patch+yaml", "application/json-patch+json",
                                                      "application/merge-patch+json"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "serving.kserve.io", "version": "v1beta1",
                                                        "kind": "InferenceService"}


def test_unknown_fields_are_named_with_their_path() -> None:
    manifest = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": "x", "uid": "server-set", "colour": "red"},
                "spec": {"predictor": {"modle": {}, "model": {"modelFormat": {"name": "a", "vers": "1"}}}}}

    unknown = fields.unknown_fields(manifest, MODEL_BY_KIND["InferenceService"])

    assert unknown == ["metadata.colour", "spec.predictor.modle", "spec.predictor.model.modelFormat.vers"]
    assert fields.strict_message(unknown[1:2]) == 'strict decoding error: unknown field "spec.predictor.modle"'


@pytest.mark.parametrize(("labels", "fields_", "body", "expected"), [
    ("team=a", None, {"metadata": {"labels": {"team": "a"}}}, True),
    ("team!=a", None, {"metadata": {"labels": {"team": "a"}}}, False),
    ("team in (a, b),!gone", None, {"metadata": {"labels": {"team": "b"}}}, True),
    ("team notin (a)", None, {"metadata": {}}, True),
    ("team", None, {"metadata": {}}, False),
    (None, "metadata.name=x", {"metadata": {"name": "x"}}, True),
    (None, "metadata.name!=x,metadata.namespace==n", {"metadata": {"name": "y", "namespace": "n"}}, True),
])
def test_selectors(labels: str | None, fields_: str | None, body: dict, expected: bool) -> None:
    assert matcher(labels, fields_)(body) is expected


def test_a_bad_selector_is_an_error() -> None:
    with pytest.raises(SelectorError, match=r"spec\.x"):
        matcher(None, "spec.x=1")


def test_patches() -> None:
    live = {"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "spec": {"list": [1, 2], "v": 1}}

    assert merge_patch(live, {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"list": [3]}}) == {
        "metadata": {"name": "x", "labels": {"b": "2", "c": "3"}}, "spec": {"list": [3], "v": 1}}
    assert apply_patch(MERGE, live, {"spec": {"v": 2}})["spec"]["v"] == 2
    assert apply_patch(JSON_PATCH, live, [{"op": "add", "path": "/spec/list/-", "value": 9}])["spec"]["list"] == [
        1, 2, 9]
    assert live["spec"]["list"] == [1, 2], "the live object is not changed"
    assert apply_conflicts({"spec": {"v": 2}}, live, {"other": {"spec": {"v": 1}}}) == [("other", ".spec.v")]
    assert apply_conflicts({"spec": {"v": 1}}, live, {"other": {"spec": {"v": 1}}}) == []


def test_printer_jsonpath_keeps_the_first_result() -> None:
    row = {"status": {"conditions": [{"type": "PredictorReady", "status": "False"},
                                     {"type": "Ready", "status": "True"}]},
           "spec": {"supportedModelFormats": [{"name": "sklearn"}, {"name": "xgboost"}]}}

    assert first(row, ".status.conditions[?(@.type=='Ready')].status") == "True"
    assert first(row, ".spec.supportedModelFormats[*].name") == "sklearn"
    assert first(row, ".status.url") is None


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_a_protobuf_secret_decodes_to_its_json_form() -> None:
    meta = _field(1, b"storage-config") + _field(3, b"") + _field(11, _field(1, b"app") + _field(2, b"x"))
    secret = _field(1, meta) + _field(2, _field(1, b"k") + _field(2, b"\x00value")) + _field(3, b"Opaque")
    payload = MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, secret)

    assert decode_object(payload) == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                      "metadata": {"name": "storage-config", "labels": {"app": "x"}},
                                      "data": {"k": base64.b64encode(b"\x00value").decode()}}
