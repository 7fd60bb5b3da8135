"""Who may drive the management API: a bearer token, the API's own Host and Origin, Kubernetes' body types and
size limit. Every refused request leaves the emulator as it was (checked with an authenticated GET)."""

from __future__ import annotations

import ssl
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import yaml

from emulator.app import Emulator
from emulator.kube.guard import BODY_LIMIT
from emulator.kube.kubeconfig import KubeconfigError, read_kubeconfig, write_kubeconfig
from emulator.settings import Settings
from tests.control.test_control_manifests import isvc

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/modelmesh-serving/inferenceservices"


@pytest.fixture
async def emulator(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Emulator]:
    settings = make_settings(load_on_apply=False, kubeconfig=tmp_path / "state" / "kubeconfig")
    async with Emulator(settings) as emulator:
        yield emulator


def api_client(emulator: Emulator) -> httpx.AsyncClient:
    """A client trusting the API's serving certificate, with no token."""
    return httpx.AsyncClient(base_url=emulator.api_url or "",
                             verify=ssl.create_default_context(cadata=emulator.api_certificate))


def authorized(emulator: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.api_token}"}


async def listed_names(client: httpx.AsyncClient, emulator: Emulator) -> list[str]:
    reply = await client.get(ISVCS, headers=authorized(emulator))
    assert reply.status_code == 200, reply.text
    return [item["metadata"]["name"] for item in reply.json()["items"]]


@pytest.mark.parametrize(("headers", "code", "reason"), [
    ({}, 401, "Unauthorized"),
    ({"Authorization": "Bearer not-the-token"}, 401, "Unauthorized"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "Unauthorized"),
    ({"Origin": "http://evil.example"}, 403, "Forbidden"),
    ({"Host": "evil.example:8034"}, 403, "Forbidden"),
    ({"Content-Type": "text/plain"}, 415, "UnsupportedMediaType"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"),
], ids=["no-token", "wrong-token", "basic-auth", "foreign-origin", "foreign-host", "text-plain", "form"])
async def test_a_refused_request_applies_nothing(emulator: Emulator, headers: dict[str, str], code: int,
                                                 reason: str) -> None:
    sent = ({} if code == 401 else authorized(emulator)) | {"Content-Type": "application/yaml"} | headers
    async with api_client(emulator) as client:
        applied = await client.post("/emulator/v1/apply", content=isvc("evil"), headers=sent)
        created = await client.post(ISVCS, content=isvc("evil2"), headers=sent)

        assert (applied.status_code, created.status_code) == (code, code)
        assert applied.json()["kind"] == "Status" and applied.json()["reason"] == reason
        assert "access-control-allow-origin" not in {name.lower() for name in applied.headers}
        assert await listed_names(client, emulator) == []


async def test_the_token_host_and_own_origin_are_accepted(emulator: Emulator) -> None:
    own_origin = {"Origin": emulator.api_url or ""}
    async with api_client(emulator) as client:
        created = await client.post(ISVCS, content=isvc("a"),
                                    headers=authorized(emulator) | own_origin | {"Content-Type": "application/yaml"})
        by_localhost = await client.get(ISVCS, headers=authorized(emulator)
                                        | {"Host": f"localhost:{emulator.api_port}"})

        assert created.status_code == 201, created.text
        assert by_localhost.status_code == 200
        assert await listed_names(client, emulator) == ["a"]


async def test_a_cors_preflight_gets_no_cors_headers(emulator: Emulator) -> None:
    async with api_client(emulator) as client:
        preflight = await client.options("/emulator/v1/apply", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})

    assert preflight.status_code == 403
    assert not any(name.lower().startswith("access-control-") for name in preflight.headers)


async def test_health_probes_answer_without_a_token_and_say_nothing_else(emulator: Emulator) -> None:
    async with api_client(emulator) as client:
        replies = [await client.get(path) for path in ("/healthz", "/livez", "/readyz")]
        info = await client.get("/emulator/v1/info")

    assert [(reply.status_code, reply.text) for reply in replies] == [(200, "ok")] * 3
    assert info.status_code == 401


async def test_a_body_over_3_mib_is_413_and_applies_nothing(emulator: Emulator) -> None:
    padding = "# " + "x" * 78 + "\n"
    body = isvc("big") + padding * (BODY_LIMIT // len(padding) + 1)
    async with api_client(emulator) as client:
        declared = await client.post(ISVCS, content=body, headers=authorized(emulator)
                                     | {"Content-Type": "application/yaml"})

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65536):
                yield body[start:start + 65536].encode()

        streamed = await client.post(ISVCS, content=chunks(), headers=authorized(emulator)
                                     | {"Content-Type": "application/yaml"})

        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert declared.json()["reason"] == "RequestEntityTooLarge"
        assert await listed_names(client, emulator) == []


async def test_a_huge_log_tail_is_clamped_not_an_error(emulator: Emulator) -> None:
    async with api_client(emulator) as client:
        reply = await client.get("/emulator/v1/runtimes/none/logs", params={"tail": str(10 ** 30)},
                                 headers=authorized(emulator))

    assert reply.status_code == 404  # no such runtime: the parameter itself is accepted
    assert reply.json()["reason"] == "NotFound"


async def test_the_kubeconfig_is_private_and_names_the_api(emulator: Emulator) -> None:
    path = emulator.settings.kubeconfig
    assert path is not None
    document = yaml.safe_load(path.read_text())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert document["current-context"] == "modelmesh-emulator"
    assert read_kubeconfig(path).server == emulator.api_url
    assert read_kubeconfig(path).token == emulator.api_token
    assert read_kubeconfig(path).ca_pem == emulator.api_certificate


def test_another_kubeconfig_is_never_overwritten(tmp_path: Path) -> None:
    theirs = tmp_path / "config"
    theirs.write_text("apiVersion: v1\nkind: Config\ncontexts: [{name: prod, context: {cluster: prod}}]\n")

    with pytest.raises(KubeconfigError, match="not a kubeconfig written by modelmesh-emulator"):
        write_kubeconfig(theirs, server="https://127.0.0.1:1", token="t", ca_pem="", namespace="n")
    assert "prod" in theirs.read_text()


async def test_the_kubeconfig_is_removed_on_stop(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    async with Emulator(make_settings(load_on_apply=False, kubeconfig=path)):
        assert path.is_file()
    assert not path.exists()


async def test_api_enabled_false_serves_no_api_and_writes_no_kubeconfig(make_settings: Callable[..., Settings],
                                                                       tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    async with Emulator(make_settings(load_on_apply=False, api_enabled=False, kubeconfig=path)) as emulator:
        assert emulator.api_url is None
        assert not path.exists()
