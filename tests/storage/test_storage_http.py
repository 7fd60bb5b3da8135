"""The http puller against local HTTP(S) servers: URL joining, TLS verification, headers, client certificates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import StorageError
from emulator.settings import Settings
from emulator.spec.storage_uri import parse_storage_uri
from emulator.storage import Puller
from emulator.storage.factory import build_puller
from emulator.storage.http import parse_headers, request_url
from tests.file_server import FileServer
from tests.storage_support import pull, tree
from tests.tls_certs import TestCA

MODEL = b"joblib-bytes"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "sklearn").mkdir()
    (root / "sklearn" / "mnist-svm.joblib").write_bytes(MODEL)
    return root


@pytest.fixture
def https(ca: TestCA, site: Path) -> Iterator[FileServer]:
    with FileServer(site, tls=ca.server_context(ca.server_pair())) as server:
        yield server


@pytest.fixture
def puller(tmp_path: Path) -> Puller:
    return build_puller(Settings(local_s3_root=tmp_path / "s3", pvc_root=tmp_path / "pvcs", storage_retries=2,
                                 storage_retry_backoff_s=0.01))


@pytest.mark.parametrize(("base", "path", "expected"), [
    ("https://github.com/kserve/m/blob/main/sklearn/mnist-svm.joblib?raw=true", "",
     "https://github.com/kserve/m/blob/main/sklearn/mnist-svm.joblib?raw=true"),
    ("http://host:8080/models/", "sklearn/mnist-svm.joblib", "http://host:8080/models/sklearn/mnist-svm.joblib"),
    ("http://host", "sklearn/mnist-svm.joblib", "http://host/sklearn/mnist-svm.joblib"),
    ("http://host/a//b/", "/c/./d", "http://host/a/b/c/d"),
    ("http://host/base?token=x", "m.bin", "http://host/base/m.bin?token=x"),
    ("http://host/with%20space", "f", "http://host/with%20space/f"),
])
def test_url_and_path_join_as_go_path_join(base: str, path: str, expected: str) -> None:
    assert request_url(base, path) == expected


def test_headers_take_strings_or_lists() -> None:
    assert parse_headers({"A": "1", "B": ["2", "3"]}) == [("A", "1"), ("B", "2"), ("B", "3")]
    with pytest.raises(StorageError, match="could not parse 'headers'"):
        parse_headers({"A": 1})
    with pytest.raises(StorageError, match="could not parse 'headers'"):
        parse_headers(["A"])


def test_storage_uri_download_keeps_the_query_and_lands_as_model(
        https: FileServer, puller: Puller, ca: TestCA, tmp_path: Path) -> None:
    uri = https.url("sklearn/mnist-svm.joblib?raw=true")
    target = parse_storage_uri(uri)
    config = {"default_http": {"type": "http", "certificate": ca.pem}}  # found by the type the URI implies

    pulled = pull(puller, tmp_path / "models", config, path=target.path, params=target.parameters)

    assert pulled.model_path == tmp_path / "models" / "model-1" / "_model"
    assert pulled.model_path.read_bytes() == MODEL
    assert [r.path for r in https.requests] == ["/sklearn/mnist-svm.joblib?raw=true"]


def test_entry_url_plus_path_lands_under_the_basename_with_headers(
        https: FileServer, puller: Puller, ca: TestCA, tmp_path: Path) -> None:
    entry = {"type": "http", "url": https.url(), "certificate": ca.pem,
             "headers": {"Authorization": "Bearer secret-token", "X-Multi": ["a", "b"]}}

    pulled = pull(puller, tmp_path / "models", {"web": entry}, key="web", path="sklearn/mnist-svm.joblib")

    assert tree(tmp_path / "models") == {"model-1/mnist-svm.joblib": MODEL}
    headers = https.requests[0].headers
    assert headers["authorization"] == ["Bearer secret-token"]
    assert headers["x-multi"] in (["a", "b"], ["a, b"])
    assert pulled.disk_size_bytes == len(MODEL)


def test_tls_is_verified_by_default(https: FileServer, puller: Puller, tmp_path: Path) -> None:
    entry = {"type": "http", "url": https.url(), "headers": {"Authorization": "Bearer secret-token"}}

    with pytest.raises(StorageError) as failure:
        pull(puller, tmp_path / "models", {"web": entry}, key="web", path="sklearn/mnist-svm.joblib")

    assert "TLS failure" in failure.value.message and "CERTIFICATE_VERIFY_FAILED" in failure.value.message
    assert "secret-token" not in failure.value.message
    assert list((tmp_path / "models").iterdir()) == []


def test_a_certificate_that_is_not_pem_is_reported(https: FileServer, puller: Puller, tmp_path: Path) -> None:
    entry = {"type": "http", "url": https.url(), "certificate": "not a certificate"}

    with pytest.raises(StorageError, match="failed to add certificate to CA pool"):
        pull(puller, tmp_path / "models", {"web": entry}, key="web", path="sklearn/mnist-svm.joblib")


def test_not_found_names_the_url_without_query_values(https: FileServer, puller: Puller, ca: TestCA,
                                                       tmp_path: Path) -> None:
    entry = {"type": "http", "url": https.url("?sig=very-secret-signature"), "certificate": ca.pem}

    with pytest.raises(StorageError) as failure:
        pull(puller, tmp_path / "models", {"web": entry}, key="web", path="nope/model.bin")

    message = failure.value.message
    assert "unable to download file from 'https://127.0.0.1:" in message
    assert "/nope/model.bin?sig=...': HTTP Status Code: 404" in message
    assert "very-secret-signature" not in message


def test_server_errors_are_retried(ca: TestCA, site: Path, puller: Puller, tmp_path: Path) -> None:
    with FileServer(site, tls=ca.server_context(ca.server_pair()), fail_first=2) as flaky:
        entry = {"type": "http", "url": flaky.url(), "certificate": ca.pem}

        pulled = pull(puller, tmp_path / "models", {"web": entry}, key="web", path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == MODEL
    assert len(flaky.requests) == 3


def test_client_certificate_is_presented_when_the_server_requires_one(
        ca: TestCA, site: Path, puller: Puller, tmp_path: Path) -> None:
    client = ca.client_pair()
    entry: dict[str, Any] = {"type": "http", "certificate": ca.pem}
    with FileServer(site, tls=ca.server_context(ca.server_pair(), require_client_cert=True)) as mtls:
        entry["url"] = mtls.url()
        with_cert = {**entry, "client_certificate": client.cert_pem, "client_key": client.key_pem}
        pulled = pull(puller, tmp_path / "ok", {"web": with_cert}, key="web", path="sklearn/mnist-svm.joblib")
        with pytest.raises(StorageError) as failure:
            pull(puller, tmp_path / "refused", {"web": entry}, key="web", path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == MODEL
    assert "unable to download file" in failure.value.message
    assert client.key_pem not in failure.value.message


@pytest.mark.parametrize(("fields", "error"), [
    ({"client_key": "k"}, "missing required client certificate when client key is specified"),
    ({"client_certificate": "c"}, "missing required client key when client certificate is specified"),
    ({}, "required configuration 'url' missing from command"),
])
def test_incomplete_entries_are_reported(puller: Puller, tmp_path: Path, fields: dict[str, str], error: str) -> None:
    entry = {"type": "http", **({"url": "https://127.0.0.1:9/"} if fields else {}), **fields}

    with pytest.raises(StorageError, match=error):
        pull(puller, tmp_path / "models", {"web": entry}, key="web", path="m.bin")
