"""API server semantics over HTTP against an in-process emulator (lazy loading: no runtime process starts):
field validation levels, server-side apply conflicts, deletecollection, a watch from an expired resourceVersion."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from emulator.app import Emulator
from emulator.kube import objects
from emulator.settings import Settings

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/modelmesh-serving/inferenceservices"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def isvc(name: str, path: str = "a.joblib", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "annotations": {"serving.kserve.io/deploymentMode": "ModelMesh"},
                         "labels": {"app": "demo"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                             "storage": {"key": "localMinIO", "path": path}}, **extra}}}


@pytest.fixture
async def api(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with Emulator(make_settings(load_on_apply=False)) as emulator, httpx.AsyncClient(
            base_url=emulator.api_url or "", headers={"Authorization": f"Bearer {emulator.api_token}"},
            verify=ssl.create_default_context(cadata=emulator.api_certificate)) as client:
        yield client


async def test_field_validation_levels(api: httpx.AsyncClient) -> None:
    strict = await api.post(ISVCS, json=isvc("a", modle={}), params={"fieldValidation": "Strict"})
    warned = await api.post(ISVCS, json=isvc("b", modle={}), params={"fieldValidation": "Warn"})
    ignored = await api.post(ISVCS, json=isvc("c", modle={}), params={"fieldValidation": "Ignore"})
    bad_level = await api.post(ISVCS, json=isvc("d"), params={"fieldValidation": "Loose"})

    assert strict.status_code == 400
    assert strict.json()["message"] == ('InferenceService in version "v1beta1" cannot be handled as a '
                                        'InferenceService: strict decoding error: unknown field "spec.predictor.modle"')
    assert warned.status_code == 201 and warned.headers["warning"] == '299 - "unknown field \\"spec.predictor.modle\\""'
    assert ignored.status_code == 201 and "warning" not in ignored.headers
    assert bad_level.status_code == 400
    assert [i["metadata"]["name"] for i in (await api.get(ISVCS)).json()["items"]] == ["b", "c"]


async def test_server_side_apply_conflicts_unless_forced(api: httpx.AsyncClient) -> None:
    first = await api.patch(f"{ISVCS}/x", content=json.dumps(isvc("x")), headers=APPLY,
                            params={"fieldManager": "alice"})
    conflict = await api.patch(f"{ISVCS}/x", content=json.dumps(isvc("x", "b.joblib")), headers=APPLY,
                               params={"fieldManager": "bob"})
    forced = await api.patch(f"{ISVCS}/x", content=json.dumps(isvc("x", "b.joblib")), headers=APPLY,
                             params={"fieldManager": "bob", "force": "true"})
    no_manager = await api.patch(f"{ISVCS}/x", content=json.dumps(isvc("x")), headers=APPLY)

    assert first.status_code == 201 and first.json()["metadata"]["generation"] == 1
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"
    assert conflict.json()["message"] == ('Apply failed with 1 conflict: conflict with "alice": '
                                          ".spec.predictor.model.storage.path")
    assert forced.status_code == 200
    assert forced.json()["spec"]["predictor"]["model"]["storage"]["path"] == "b.joblib"
    assert forced.json()["metadata"]["generation"] == 2
    assert {(m["manager"], m["operation"]) for m in forced.json()["metadata"]["managedFields"]} == {
        ("alice", "Apply"), ("bob", "Apply")}
    assert no_manager.status_code == 400


async def test_delete_collection_by_label_and_dry_run(api: httpx.AsyncClient) -> None:
    for name in ("p", "q"):
        assert (await api.post(ISVCS, json=isvc(name))).status_code == 201
    other = isvc("r")
    other["metadata"]["labels"] = {"app": "other"}
    await api.post(ISVCS, json=other)

    dry = await api.delete(ISVCS, params={"labelSelector": "app=demo", "dryRun": "All"})
    kept = [i["metadata"]["name"] for i in (await api.get(ISVCS)).json()["items"]]
    deleted = await api.delete(ISVCS, params={"labelSelector": "app=demo"})
    left = [i["metadata"]["name"] for i in (await api.get(ISVCS)).json()["items"]]

    assert [i["metadata"]["name"] for i in dry.json()["items"]] == ["p", "q"]
    assert kept == ["p", "q", "r"]
    assert [i["metadata"]["name"] for i in deleted.json()["items"]] == ["p", "q"]
    assert left == ["r"]


async def test_a_watch_from_a_forgotten_resource_version_is_410_expired(api: httpx.AsyncClient) -> None:
    await api.post(ISVCS, json=isvc("first"))
    for path in ("b", "c", "d"):  # more writes than the (shortened) history keeps
        await api.put(f"{ISVCS}/first", json=isvc("first", f"{path}.joblib"))

    async with api.stream("GET", ISVCS, params={"watch": "true", "resourceVersion": "1",
                                                "timeoutSeconds": "5"}) as watch:
        events = [json.loads(line) async for line in watch.aiter_lines() if line]

    assert events == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired",
        "message": events[0]["object"]["message"], "code": 410}}]
    assert events[0]["object"]["message"].startswith("too old resource version: 1 (")


@pytest.fixture(autouse=True)
def short_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two kept writes instead of 2000, so a test can outrun the history."""
    monkeypatch.setattr(objects, "_HISTORY", 2)


async def test_server_side_apply_removes_fields_a_manager_stopped_applying(api: httpx.AsyncClient) -> None:
    labelled = isvc("y")
    labelled["metadata"]["labels"] = {"app": "demo", "tier": "gold"}
    await api.patch(f"{ISVCS}/y", content=json.dumps(labelled), headers=APPLY, params={"fieldManager": "alice"})
    await api.patch(f"{ISVCS}/y", content=json.dumps({"metadata": {"labels": {"team": "b"}}}), headers=APPLY,
                    params={"fieldManager": "bob"})
    reapplied = await api.patch(f"{ISVCS}/y", content=json.dumps(isvc("y")), headers=APPLY,
                                params={"fieldManager": "alice"})

    assert reapplied.status_code == 200, reapplied.text
    assert reapplied.json()["metadata"]["labels"] == {"app": "demo", "team": "b"}, "tier released, bob's kept"
