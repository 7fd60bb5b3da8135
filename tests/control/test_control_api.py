"""The management API, over HTTP against a real emulator (lazy loading: no runtime process starts)."""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import yaml

from emulator.app import Emulator
from emulator.settings import Settings
from tests.conftest import ROOT
from tests.control.test_control_manifests import RUNTIME, isvc

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/modelmesh-serving/inferenceservices"
PREDICTORS = "/apis/serving.kserve.io/v1alpha1/namespaces/modelmesh-serving/predictors"
SECRETS = "/api/v1/namespaces/modelmesh-serving/secrets"
CLUSTER_RUNTIMES = "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes"
SECRET_KEY = "do-not-show-this-0123456789"
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with Emulator(make_settings(api_port=0, load_on_apply=False)) as emulator:
        assert emulator.api_url is not None
        async with httpx.AsyncClient(base_url=emulator.api_url,
                                     headers={"Authorization": f"Bearer {emulator.api_token}"},
                                     verify=ssl.create_default_context(cadata=emulator.api_certificate)) as client:
            yield client


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


async def test_inferenceservice_create_get_list_replace_delete(api: httpx.AsyncClient) -> None:
    created = await api.post(ISVCS, content=isvc("a"), headers=YAML)
    conflict = await api.post(ISVCS, content=isvc("a"), headers=YAML)
    got = (await api.get(f"{ISVCS}/a")).json()
    listed = (await api.get(ISVCS)).json()
    replaced = await api.put(f"{ISVCS}/a", json=got | {"spec": {"predictor": {"model": {
        "modelFormat": {"name": "sklearn"}, "storage": {"key": "localMinIO", "path": "v2.joblib"}}}}})
    deleted = await api.delete(f"{ISVCS}/a")
    missing = await api.get(f"{ISVCS}/a")

    assert created.status_code == 201
    assert created.json()["metadata"]["namespace"] == "modelmesh-serving"
    assert created.json()["metadata"]["creationTimestamp"].endswith("Z")
    assert created.json()["status"]["modelStatus"]["states"] == {"activeModelState": "Pending",
                                                                 "targetModelState": ""}
    assert conflict.status_code == 409
    assert conflict.json() == status_body(409, "AlreadyExists",
                                          'inferenceservices.serving.kserve.io "a" already exists')
    assert listed["kind"] == "InferenceServiceList"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a"]
    assert replaced.status_code == 200
    assert replaced.json()["spec"]["predictor"]["model"]["storage"]["path"] == "v2.joblib"
    assert replaced.json()["metadata"]["uid"] == got["metadata"]["uid"]
    assert deleted.json()["status"] == "Success"
    assert missing.status_code == 404
    assert missing.json() == status_body(404, "NotFound", 'inferenceservices.serving.kserve.io "a" not found')


async def test_bad_requests_get_kubernetes_status_bodies(api: httpx.AsyncClient) -> None:
    invalid = await api.post(ISVCS, content=isvc("b").replace("name: sklearn", "name: [1]"), headers=YAML)
    not_json = await api.post(ISVCS, content=b"{oops", headers={"Content-Type": "application/json"})
    wrong_kind = await api.post(PREDICTORS, content=isvc("b"), headers=YAML)
    wrong_name = await api.put(f"{ISVCS}/other", content=isvc("b"), headers=YAML)
    no_route = await api.get("/apis/serving.kserve.io/v1beta1/namespaces/x/widgets")
    no_method = await api.post(f"{ISVCS}/b")

    assert invalid.status_code == 422
    assert invalid.json()["reason"] == "Invalid"
    assert invalid.json()["message"] == ('request body: InferenceService "b": field '
                                         "spec.predictor.model.modelFormat.name: Input should be a valid string")
    assert not_json.json() == status_body(400, "BadRequest", "the request body is not valid JSON: Expecting "
                                          "property name enclosed in double quotes at line 1 column 2")
    assert wrong_kind.json()["message"] == "expected one Predictor for predictors, got InferenceService"
    assert wrong_name.json()["message"] == ("the name of the object (b) does not match the name on the URL "
                                            "(other)")
    assert no_route.json() == status_body(404, "NotFound", "the server could not find the requested resource")
    assert no_method.status_code == 405


async def test_predictor_status_has_the_v1alpha1_fields(api: httpx.AsyncClient) -> None:
    predictor = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "Predictor", "metadata": {"name": "p"},
                 "spec": {"modelType": {"name": "sklearn"}, "path": "sklearn/mnist-svm.joblib",
                          "storage": {"s3": {"secretKey": "localMinIO"}}}}
    body = (await api.post(PREDICTORS, json=predictor)).json()

    assert body["status"] == {
        "available": True, "transitionStatus": "UpToDate", "activeModelState": "Pending", "targetModelState": "",
        "grpcEndpoint": body["status"]["grpcEndpoint"], "httpEndpoint": body["status"]["httpEndpoint"],
        "totalCopies": 0, "failedCopies": 0,
    }
    assert body["status"]["grpcEndpoint"].startswith("grpc://127.0.0.1:")


async def test_secret_values_are_never_returned_or_logged(api: httpx.AsyncClient,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    entry = json.dumps({"type": "s3", "access_key_id": "k", "secret_access_key": SECRET_KEY, "bucket": "b"})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storage-config"},
              "stringData": {"my-s3": entry}}

    created = await api.post(SECRETS, json=secret)
    got = await api.get(f"{SECRETS}/storage-config")
    reapplied = await api.put(f"{SECRETS}/storage-config", json=got.json())
    table = await api.get(SECRETS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    bad = await api.put(f"{SECRETS}/storage-config", json={**secret, "stringData": {"my-s3": "{" + SECRET_KEY}})

    assert got.json()["data"] == {"my-s3": "PHJlZGFjdGVkPg=="}
    assert reapplied.status_code == 422
    assert "'<redacted>' is what the API shows instead of secret values" in reapplied.json()["message"]
    assert table.json()["rows"][0]["cells"][:3] == ["storage-config", "Opaque", 1]
    assert bad.status_code == 422
    for text in (created.text, got.text, reapplied.text, table.text, bad.text, caplog.text):
        assert SECRET_KEY not in text
        assert base64.b64encode(entry.encode()).decode() not in text


async def test_cluster_runtimes_tables_and_emulator_endpoints(api: httpx.AsyncClient) -> None:
    created = await api.post(CLUSTER_RUNTIMES, content=RUNTIME, headers=YAML)
    table = (await api.get(CLUSTER_RUNTIMES, headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"}))
    runtimes = (await api.get("/emulator/v1/runtimes")).json()["items"]
    logs = await api.get("/emulator/v1/runtimes/rt/logs")
    applied = await api.post("/emulator/v1/apply", params={"source": "two.yaml"},
                             content=isvc("x") + "---\n" + isvc("y"))
    broken = await api.post("/emulator/v1/apply", params={"source": "broken.yaml"}, content="kind: [")
    info = (await api.get("/emulator/v1/info")).json()

    assert created.status_code == 201 and created.json()["metadata"].get("namespace") is None
    assert [c["name"] for c in table.json()["columnDefinitions"]] == ["Name", "Disabled", "ModelType", "Containers",
                                                                      "Age", "Instances"]
    assert table.json()["rows"][0]["cells"][:4] == ["rt", None, "sklearn", "mlserver"]
    assert runtimes == [{"kind": "ClusterServingRuntime", "name": "rt", "namespace": None, "disabled": False,
                         "multiModel": True, "instances": []}]
    assert logs.json()["message"] == "runtime rt has no running instance (instances start when a model needs them)"
    assert [item["line"] for item in applied.json()["items"]] == ["inferenceservice.serving.kserve.io/x created",
                                                                  "inferenceservice.serving.kserve.io/y created"]
    assert broken.status_code == 422
    assert broken.json()["message"].startswith("broken.yaml, document 0: invalid YAML at line 1")
    assert info["namespace"] == "modelmesh-serving" and info["grpcUrl"].startswith("grpc://127.0.0.1:")


async def test_a_runtime_applied_through_the_api_finds_its_source_by_image(
        make_settings: Callable[..., Settings]) -> None:
    folder = ROOT / "runtimes" / "custom-mnist"
    runtime = yaml.safe_load((folder / "servingruntime.yaml").read_text())  # modelmesh-emulator/source: .
    settings = make_settings(api_port=0, load_on_apply=False,
                             image_sources={"custom-mnist-runtime:latest": str(folder)})
    async with Emulator(settings) as emulator, httpx.AsyncClient(
            base_url=emulator.api_url or "", headers={"Authorization": f"Bearer {emulator.api_token}"},
            verify=ssl.create_default_context(cadata=emulator.api_certificate)) as client:
        created = await client.post("/apis/serving.kserve.io/v1alpha1/namespaces/modelmesh-serving/servingruntimes",
                                    json=runtime)

    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["annotations"]["modelmesh-emulator/source"] == str(folder.resolve())
