"""The s3 puller against a real S3 HTTP endpoint (moto's server): layouts, configuration, failures, retries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from minio.error import ServerError

from emulator.errors import StorageError, UnsupportedError
from emulator.launchers.ports import free_port
from emulator.settings import Settings
from emulator.storage import EMBEDDED_STORAGE_CONFIG, Puller
from emulator.storage.factory import build_puller
from emulator.storage.local import LocalBucketProvider
from emulator.storage.retry import RetryPolicy, TransientStorageError
from emulator.storage.s3 import S3Provider, wanted_object
from emulator.storage.s3_client import S3ClientCache, S3Connection, s3_error
from tests.s3_server import QUICKSTART_ACCESS_KEY, QUICKSTART_SECRET_KEY, S3Server
from tests.storage_support import pull, tree
from tests.tls_certs import TestCA

BUCKET = "puller-tests"  # moto's buckets are process-wide: the end-to-end tests own modelmesh-example-models
OBJECTS = {
    "sklearn/mnist-svm.joblib": b"svm-bytes",
    "models/tfmnist/": b"",  # a "directory" marker, as S3 consoles create
    "models/tfmnist/1/saved_model.pb": b"pb",
    "models/tfmnist/1/variables/variables.index": b"index",
    "models/tfmnist/1/variables/empty.txt": b"",
    "models/tfmnist-other/x.pb": b"other",
    "schema/schema.json": b'{"inputs": []}',
    "evil/m/../../../../escaped.txt": b"evil",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server(bucket=BUCKET) as server:
        server.seed(BUCKET, OBJECTS)
        yield server


def make_puller(tmp_path: Path, **settings: Any) -> Puller:
    values: dict[str, Any] = {"local_s3_root": tmp_path / "no-local-s3", "pvc_root": tmp_path / "pvcs",
                              "storage_retries": 0, "storage_retry_backoff_s": 0.01}
    return build_puller(Settings(**{**values, **settings}))


def assert_no_credentials(text: str, *secrets: str) -> None:
    for secret in (QUICKSTART_ACCESS_KEY, QUICKSTART_SECRET_KEY, *secrets):
        assert secret not in text


def test_single_object_lands_under_its_basename(s3: S3Server, tmp_path: Path) -> None:
    config = {"localMinIO": s3.storage_entry()}

    pulled = pull(make_puller(tmp_path), tmp_path / "models", config, key="localMinIO",
                  path="sklearn/mnist-svm.joblib")

    assert pulled.model_path == tmp_path / "models" / "model-1" / "mnist-svm.joblib"
    assert pulled.model_path.read_bytes() == b"svm-bytes"
    assert pulled.disk_size_bytes == len(b"svm-bytes")
    assert tree(tmp_path / "models") == {"model-1/mnist-svm.joblib": b"svm-bytes"}


@pytest.mark.parametrize("path", ["models/tfmnist", "models/tfmnist/", "/models/tfmnist"])
def test_prefix_keeps_nested_layout_and_skips_directory_markers_and_siblings(
        s3: S3Server, tmp_path: Path, path: str) -> None:
    pulled = pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s", path=path)

    assert pulled.model_path == tmp_path / "models" / "model-1" / "tfmnist"
    assert tree(pulled.model_path) == {"1/saved_model.pb": b"pb", "1/variables/variables.index": b"index"}
    assert pulled.disk_size_bytes == len(b"pb") + len(b"index")


def test_prefix_never_matches_a_longer_sibling_name(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s", path="models/tfmn")

    assert "no objects found for path 'models/tfmn' in bucket 'puller-tests'" in failure.value.message
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize(("key", "prefix", "wanted"), [
    ("models/m", "models/m", True),
    ("models/m/1/x", "models/m", True),
    ("models/m2/x", "models/m", False),
    ("models/m-other", "models/m", False),
    ("models/m/", "models/m", False),
    ("models/m2/x", "models/", True),
    ("anything", "", False),
])
def test_object_filter_is_upstreams(key: str, prefix: str, wanted: bool) -> None:
    assert wanted_object(key, 1, prefix) is wanted
    assert wanted_object(key, 0, prefix) is False


def test_storage_uri_parameters_win_over_the_entry(s3: S3Server, tmp_path: Path) -> None:
    config = {"localMinIO": s3.storage_entry(bucket="some-other-bucket")}
    params = {"type": "s3", "bucket": BUCKET}  # what `storageUri: s3://<bucket>/...` gives

    pulled = pull(make_puller(tmp_path), tmp_path / "models", config, key="localMinIO", params=params,
                  path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == b"svm-bytes"


def test_parameters_override_entry_fields_with_dot_paths_kept_out_of_the_way(s3: S3Server, tmp_path: Path) -> None:
    config = {"s": s3.storage_entry(region="nowhere-1")}

    pulled = pull(make_puller(tmp_path), tmp_path / "models", config, key="s",
                  params={"region": "us-south", "extra.note": "ignored by s3"}, path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == b"svm-bytes"


@pytest.mark.parametrize(("default_key", "params"), [("default", None), ("default_s3", {"type": "s3"})])
def test_default_storage_key_is_used_when_none_is_named(
        s3: S3Server, tmp_path: Path, default_key: str, params: dict[str, str] | None) -> None:
    config = {default_key: s3.storage_entry(), "unrelated": {"type": "pvc", "name": "x"}}

    pulled = pull(make_puller(tmp_path), tmp_path / "models", config, params=params, path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == b"svm-bytes"


def test_schema_path_is_pulled_next_to_the_model(s3: S3Server, tmp_path: Path) -> None:
    pulled = pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s",
                  path="sklearn/mnist-svm.joblib", schema="schema/schema.json")

    assert pulled.schema_path == tmp_path / "models" / "model-1" / "schema.json"
    assert pulled.schema_path.read_bytes() == b'{"inputs": []}'


def test_embedded_local_minio_pulls_over_s3_when_an_endpoint_is_configured(s3: S3Server, tmp_path: Path) -> None:
    puller = make_puller(tmp_path, s3_endpoint=s3.endpoint_url)

    pulled = pull(puller, tmp_path / "models", EMBEDDED_STORAGE_CONFIG, key="localMinIO",
                  params={"type": "s3", "bucket": BUCKET}, path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == b"svm-bytes"


def test_embedded_local_minio_reads_the_local_directory_without_an_endpoint(tmp_path: Path) -> None:
    bucket_dir = tmp_path / "local" / EMBEDDED_STORAGE_CONFIG["localMinIO"]["bucket"]
    (bucket_dir / "sklearn").mkdir(parents=True)
    (bucket_dir / "sklearn" / "mnist-svm.joblib").write_bytes(b"local")

    pulled = pull(make_puller(tmp_path, local_s3_root=tmp_path / "local"), tmp_path / "models",
                  EMBEDDED_STORAGE_CONFIG, key="localMinIO", path="sklearn/mnist-svm.joblib")

    assert pulled.model_path.read_bytes() == b"local"


@pytest.mark.parametrize("missing", ["access_key_id", "secret_access_key", "endpoint_url", "region"])
def test_every_connection_field_is_required_when_an_endpoint_is_named(
        s3: S3Server, tmp_path: Path, missing: str) -> None:
    entry = s3.storage_entry()
    del entry[missing]
    if missing == "endpoint_url":
        entry["endpoint_url"] = 9000

    with pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", {"s": entry}, key="s", path="sklearn/mnist-svm.joblib")

    assert f"missing required string configuration '{missing}'" in failure.value.message
    assert "storage key 's'" in failure.value.message


def test_wrong_credentials_are_refused_and_never_shown(s3: S3Server, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with s3.authenticated() as (access_key, secret_key):
        good = pull(make_puller(tmp_path), tmp_path / "good",
                    {"s": s3.storage_entry(access_key_id=access_key, secret_access_key=secret_key)},
                    key="s", path="sklearn/mnist-svm.joblib")
        failures = []
        for wrong in ({"access_key_id": access_key, "secret_access_key": "not-the-secret-key"},
                      {"access_key_id": "AKIANOSUCHKEY0000000", "secret_access_key": secret_key}):
            with pytest.raises(StorageError) as failure:
                pull(make_puller(tmp_path, storage_retries=2), tmp_path / "bad", {"s": s3.storage_entry(**wrong)},
                     key="s", path="sklearn/mnist-svm.joblib")
            failures.append(failure.value.message)

    assert good.model_path.read_bytes() == b"svm-bytes"
    assert "access denied (SignatureDoesNotMatch" in failures[0]
    assert "access denied (InvalidAccessKeyId" in failures[1]
    for message in failures:
        assert f"bucket '{BUCKET}'" in message
        assert s3.endpoint_url in message
        assert_no_credentials(message + caplog.text, access_key, secret_key, "not-the-secret-key",
                              "AKIANOSUCHKEY0000000")
    assert list((tmp_path / "bad").iterdir()) == []


def test_missing_bucket_is_named(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry(bucket="no-such-bucket")},
             key="s", path="sklearn/mnist-svm.joblib")

    message = failure.value.message
    assert "unable to list objects in bucket 'no-such-bucket'" in message and "no such bucket" in message
    assert message.startswith("Failed to pull model from storage due to error: ")
    assert "storage key 's', no-such-bucket/sklearn/mnist-svm.joblib" in message
    assert_no_credentials(message)


def test_missing_object_is_named(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s", path="invalid/path")

    assert "no objects found for path 'invalid/path' in bucket 'puller-tests'" in failure.value.message


def test_object_keys_that_escape_the_model_directory_are_refused(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s", path="evil/m")

    assert "escapes the model directory" in failure.value.message
    assert not list(tmp_path.rglob("escaped.txt"))
    assert list((tmp_path / "models").iterdir()) == []


def test_a_model_path_with_dot_dot_is_refused_before_any_request(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="escapes the model directory"):
        pull(make_puller(tmp_path), tmp_path / "models", {"s": s3.storage_entry()}, key="s",
             path="sklearn/../../etc/passwd")


def test_unreachable_endpoint_is_retried_then_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entry = {"type": "s3", "access_key_id": QUICKSTART_ACCESS_KEY, "secret_access_key": QUICKSTART_SECRET_KEY,
             "endpoint_url": f"http://127.0.0.1:{free_port()}", "bucket": BUCKET, "region": "us-south"}

    with caplog.at_level(logging.WARNING), pytest.raises(StorageError) as failure:
        pull(make_puller(tmp_path, storage_retries=2), tmp_path / "models", {"s": entry}, key="s", path="a/b")

    assert "endpoint unreachable" in failure.value.message
    assert "gave up after 3 attempts" in failure.value.message
    assert caplog.text.count("retry ") == 2
    assert_no_credentials(failure.value.message + caplog.text)


def test_endpoint_down_then_up_succeeds_by_retrying(s3: S3Server, tmp_path: Path) -> None:
    port = free_port()
    late = S3Server(port)
    starter = threading.Timer(0.8, late.start)
    starter.start()
    try:
        started = time.monotonic()
        pulled = pull(make_puller(tmp_path, storage_retries=8, storage_retry_backoff_s=0.2), tmp_path / "models",
                      {"s": s3.storage_entry(endpoint_url=f"http://127.0.0.1:{port}")}, key="s",
                      path="sklearn/mnist-svm.joblib")
        elapsed = time.monotonic() - started
    finally:
        starter.join()
        late.stop()

    assert pulled.model_path.read_bytes() == b"svm-bytes"
    assert elapsed >= 0.8


def test_large_downloads_log_progress(s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s3.seed("progress-bucket", {"big/model.bin": bytes(3 << 20)})
    puller = Puller({"s3": _s3_provider(progress_min_bytes=1 << 20)})

    with caplog.at_level(logging.INFO, logger="emulator.storage.s3"):
        pulled = pull(puller, tmp_path / "models", {"s": s3.storage_entry(bucket="progress-bucket")}, key="s",
                      path="big/model.bin")

    assert pulled.disk_size_bytes == 3 << 20
    assert "downloading s3://progress-bucket/big/model.bin (3.0 MiB)" in caplog.text
    assert "100% (3.0 of 3.0 MiB)" in caplog.text


def test_https_endpoint_is_verified_against_the_entry_certificate(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    with S3Server(tls=ca.server_context(ca.server_pair()), ca_file=ca.ca_file) as secure:
        secure.seed("tls-bucket", {"m/model.joblib": b"over-tls"})
        trusted = secure.storage_entry(bucket="tls-bucket")
        untrusted = {k: v for k, v in trusted.items() if k != "certificate"}

        pulled = pull(make_puller(tmp_path), tmp_path / "models", {"s": trusted}, key="s", path="m/model.joblib")
        with pytest.raises(StorageError) as failure:
            pull(make_puller(tmp_path, storage_retries=3), tmp_path / "other", {"s": untrusted}, key="s",
                 path="m/model.joblib")

    assert pulled.model_path.read_bytes() == b"over-tls"
    assert "TLS failure" in failure.value.message and "CERTIFICATE_VERIFY_FAILED" in failure.value.message


def test_clients_are_cached_per_connection() -> None:
    cache = S3ClientCache()
    base = S3Connection("http://127.0.0.1:9", "us-south", "key", "secret")

    first = cache.client(base)

    assert cache.client(S3Connection("http://127.0.0.1:9", "us-south", "key", "secret")) is first
    assert cache.client(S3Connection("http://127.0.0.1:9", "us-south", "key", "other")) is not first
    assert "secret" not in repr(base) and "key" not in repr(base)


@pytest.mark.parametrize(("storage_type", "service"), [("gcs", "Google Cloud Storage"),
                                                       ("azure", "Azure Blob Storage")])
def test_gcs_and_azure_are_recognised_but_not_supported(tmp_path: Path, storage_type: str, service: str) -> None:
    config = {"cloud": {"type": storage_type, "bucket": "b", "private_key": "pk-secret-value"}}

    with pytest.raises(UnsupportedError) as failure:
        pull(make_puller(tmp_path), tmp_path / "models", config, key="cloud", path="m/model.joblib")

    assert f"storage type '{storage_type}' ({service}) is not supported by the emulator" in failure.value.message
    assert "storage key 'cloud'" in failure.value.message
    assert "pk-secret-value" not in failure.value.message


def test_unknown_storage_type_fails_as_upstream(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no provider registered for repositories of type 'ftp'"):
        pull(make_puller(tmp_path), tmp_path / "models", {"f": {"type": "ftp"}}, key="f", path="m")


def _s3_provider(**options: Any) -> S3Provider:
    return S3Provider(LocalBucketProvider(Path("/nonexistent")), retry=RetryPolicy(retries=0), **options)


@pytest.mark.parametrize(("error", "transient"), [
    (ServerError("server failed with HTTP status code 503", 503), True),
    (ServerError("server failed with HTTP status code 501", 501), False),
    (ServerError("bad request", 400), False),
    (urllib3.exceptions.ProtocolError("Connection aborted."), True),
    (urllib3.exceptions.SSLError("certificate verify failed"), False),
    (ValueError("invalid bucket name"), False),
])
def test_only_unreachable_endpoints_and_server_errors_are_retried(error: Exception, transient: bool) -> None:
    connection = S3Connection("http://127.0.0.1:9", "us-south", "key", "secret")

    translated = s3_error(error, "list objects in bucket 'b'", connection)

    assert isinstance(translated, StorageError)
    assert isinstance(translated, TransientStorageError) is transient
    assert translated.message.startswith("unable to list objects in bucket 'b' at http://127.0.0.1:9: ")
