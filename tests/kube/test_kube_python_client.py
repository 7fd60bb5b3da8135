"""The Kubernetes Python client (`kubernetes`), unchanged, against the management API through serve's kubeconfig:
CRUD, patches, watch, /status, dry run and a typed V1Secret. Models load lazily: no runtime process starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import Served, serve_process

kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes client is in the test extras")
from kubernetes import client as k8s  # noqa: E402
from kubernetes import config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL, NAMESPACE = "serving.kserve.io", "v1beta1", "inferenceservices", "modelmesh-serving"


def isvc(name: str, path: str = "sklearn/mnist-svm.joblib") -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
            "metadata": {"name": name, "annotations": {"serving.kserve.io/deploymentMode": "ModelMesh"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                             "storage": {"key": "localMinIO", "path": path}}}}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve_process([str(ROOT / "runtimes" / "mlserver-1.x.yaml")], cwd=ROOT,
                           cache_dir=tmp_path_factory.mktemp("python-client-cache"), extra=("--lazy",))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def api_client(served: Served) -> Iterator[k8s.ApiClient]:
    with config.new_client_from_config(config_file=str(served.kubeconfig)) as api:
        yield api


@pytest.fixture
def custom(api_client: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api_client)


def test_create_get_list_replace_delete(custom: k8s.CustomObjectsApi) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, isvc("crud"))
    got = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "crud")
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, label_selector="!absent")
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "crud",
                                                       got | {"spec": isvc("crud", "v2.joblib")["spec"]})
    with pytest.raises(ApiException) as stale:
        custom.replace_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "crud", got)
    custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "crud")
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "crud")

    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    assert [item["metadata"]["name"] for item in listed["items"]] == ["crud"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(got["metadata"]["resourceVersion"])
    assert replaced["metadata"]["generation"] == 2
    assert int(replaced["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    assert stale.value.status == 409 and "the object has been modified" in stale.value.body
    assert missing.value.status == 404


def test_merge_and_json_patches(custom: k8s.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, isvc("patched"))
    merged = custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "patched",
                                                   {"metadata": {"labels": {"team": "a"}}})
    path = "/spec/predictor/model/storage/path"
    json_patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, "patched", [{"op": "replace", "path": path, "value": "other.joblib"}],
        _content_type="application/json-patch+json")
    custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "patched")

    assert merged["metadata"]["labels"] == {"team": "a"} and merged["metadata"]["generation"] == 1
    assert json_patched["spec"]["predictor"]["model"]["storage"]["path"] == "other.joblib"
    assert json_patched["metadata"]["generation"] == 2


def test_watch_streams_added_modified_deleted(custom: k8s.CustomObjectsApi) -> None:
    start = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["metadata"]["resourceVersion"]
    events: list[tuple[str, str]] = []
    stream = watch.Watch()

    def follow() -> None:
        for event in stream.stream(custom.list_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL,
                                   resource_version=start, timeout_seconds=60):
            events.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                stream.stop()

    follower = threading.Thread(target=follow)
    follower.start()
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, isvc("watched"))
    custom.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "watched",
                                          {"metadata": {"labels": {"seen": "yes"}}})
    custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "watched")
    follower.join(timeout=90)

    assert not follower.is_alive()
    assert events[0] == ("ADDED", "watched") and events[-1] == ("DELETED", "watched")
    assert set(events) <= {("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")}


def test_status_subresource_and_dry_run(custom: k8s.CustomObjectsApi) -> None:
    dry = custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, isvc("dry"), dry_run="All")
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "dry")
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, isvc("with-status"))
    status = custom.get_namespaced_custom_object_status(GROUP, VERSION, NAMESPACE, PLURAL, "with-status")
    custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "with-status")

    assert dry["metadata"]["name"] == "dry"
    assert missing.value.status == 404
    assert status["status"]["modelStatus"]["states"]["activeModelState"] == "Pending"


def test_a_typed_secret_without_api_version(api_client: k8s.ApiClient, tmp_path: Path) -> None:
    core = k8s.CoreV1Api(api_client)
    entry = '{"type": "s3", "access_key_id": "k", "secret_access_key": "s", "bucket": "b"}'
    secret = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="storage-config"), string_data={"extra": entry})

    dry = core.create_namespaced_secret(NAMESPACE, secret, dry_run="All")
    assert core.list_namespaced_secret(NAMESPACE).items == []
    created = core.create_namespaced_secret(NAMESPACE, secret)
    core.delete_namespaced_secret("storage-config", NAMESPACE)

    assert dry.metadata.name == "storage-config"
    assert created.data == {"extra": "PHJlZGFjdGVkPg=="}  # base64 of <redacted>: values are never returned
