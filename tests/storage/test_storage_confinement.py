"""One confinement rule: buckets, claim names, paths, schema paths and object keys from a manifest stay inside their
root (the local S3 directory, the PVC directory, the model's directory); nothing outside is ever read."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import StorageError
from emulator.settings import Settings
from emulator.spec import load_text
from emulator.storage import EMBEDDED_STORAGE_CONFIG, Puller
from emulator.storage.factory import build_puller
from emulator.storage.s3 import object_target
from tests.storage_support import pull

BUCKET = "modelmesh-example-models"
SECRET = b"outside the roots"
PULL_FAILED = "Failed to pull model from storage due to error: "
FROM_MODEL = "(from the model's storage parameters or storageUri)"


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    """<tmp>/s3/<BUCKET>/m.bin and <tmp>/pvcs/claim/m.bin inside the roots; <tmp>/elsewhere/x outside them."""
    for directory in (tmp_path / "s3" / BUCKET, tmp_path / "pvcs" / "claim", tmp_path / "elsewhere"):
        directory.mkdir(parents=True)
    (tmp_path / "s3" / BUCKET / "m.bin").write_bytes(b"model")
    (tmp_path / "pvcs" / "claim" / "m.bin").write_bytes(b"model")
    (tmp_path / "elsewhere" / "x").write_bytes(SECRET)
    (tmp_path / "elsewhere" / "hostname").write_bytes(SECRET)
    return tmp_path


def make_puller(roots: Path) -> Puller:
    return build_puller(Settings(local_s3_root=roots / "s3", pvc_root=roots / "pvcs", allow_any_pvc=True))


def refused(roots: Path, config: dict, **where: object) -> str:
    """The puller's message for a pull that must fail; checks that nothing landed in the models dir."""
    models = roots / "models"
    with pytest.raises(StorageError) as caught:
        pull(make_puller(roots), models, config, **where)  # type: ignore[arg-type]
    assert list(models.iterdir()) == []
    return caught.value.message


def isvc_location(storage: str):
    (isvc,) = load_text(f"""\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {{name: m, annotations: {{serving.kserve.io/deploymentMode: ModelMesh}}}}
spec: {{predictor: {{model: {{modelFormat: {{name: sklearn}}, {storage}}}}}}}
""")
    return isvc.to_predictor_spec().storage_location()


def test_the_roots_serve_what_is_inside_them(roots: Path) -> None:
    from_s3 = pull(make_puller(roots), roots / "models", EMBEDDED_STORAGE_CONFIG, key="localMinIO", path="m.bin")
    from_pvc = pull(make_puller(roots), roots / "models2", {}, path="m.bin", params={"type": "pvc", "name": "claim"})

    assert from_s3.model_path.read_bytes() == from_pvc.model_path.read_bytes() == b"model"


@pytest.mark.parametrize(("bucket", "cause"), [
    ("../elsewhere", "escapes the local S3 directory ('..' is not allowed)"),
    ("..", "escapes the local S3 directory ('..' is not allowed)"),
    (f"{BUCKET}/../../elsewhere", "escapes the local S3 directory ('..' is not allowed)"),
    ("/etc", "must be one directory name under the local S3 directory, not a path"),
    ("PLACEHOLDER", "must be one directory name under the local S3 directory, not a path"),
    ("..\\elsewhere", "contains a backslash, which storage names and paths may not"),
    ("elsewhere\0", "contains a NUL character"),
])
def test_a_bucket_from_the_model_stays_in_the_local_s3_directory(roots: Path, bucket: str, cause: str) -> None:
    bucket = str(roots / "elsewhere") if bucket == "PLACEHOLDER" else bucket  # an absolute path to a real directory

    message = refused(roots, EMBEDDED_STORAGE_CONFIG, key="localMinIO", path="x",
                      params={"type": "s3", "bucket": bucket})

    assert message.startswith(f"{PULL_FAILED}bucket {bucket!r} {FROM_MODEL} {cause} (storage key 'localMinIO', ")


def test_the_issue_s_storage_parameters_bucket_is_refused(roots: Path) -> None:
    location = isvc_location("storage: {key: localMinIO, path: x, parameters: {bucket: ../elsewhere}}")

    message = refused(roots, EMBEDDED_STORAGE_CONFIG, key=location.storage_key, path=location.path,
                      params=location.storage_params)

    assert message == (f"{PULL_FAILED}bucket '../elsewhere' {FROM_MODEL} escapes the local S3 directory ('..' is not "
                       "allowed) (storage key 'localMinIO', ../elsewhere/x)")


def test_the_issue_s_storage_uri_with_dot_dot_as_bucket_is_refused(roots: Path) -> None:
    location = isvc_location("storageUri: 's3://../elsewhere/x'")

    message = refused(roots, {}, key=location.storage_key, path=location.path, params=location.storage_params)

    assert message == (f"{PULL_FAILED}bucket '..' {FROM_MODEL} escapes the local S3 directory ('..' is not allowed) "
                       "(default storage, ../elsewhere/x)")


def test_a_bucket_of_the_storage_config_is_confined_too(roots: Path) -> None:
    config = {"local": {"type": "s3", "bucket": "/etc"}}

    message = refused(roots, config, key="local", path="hostname")

    assert "bucket '/etc' (from storage-config entry 'local') must be one directory name" in message


@pytest.mark.parametrize(("field", "value", "cause"), [
    ("path", "../elsewhere/x", "escapes the model directory"),
    ("path", f"../../{BUCKET}/../elsewhere/x", "escapes the model directory"),
    ("path", "m.bin\\..\\..\\elsewhere", "contains a backslash"),
    ("path", "m.bin\0", "contains a NUL character"),
    ("schemaPath", "../elsewhere/x", "escapes the model directory"),
])
def test_paths_and_schema_paths_stay_in_the_bucket(roots: Path, field: str, value: str, cause: str) -> None:
    where = {"path": value} if field == "path" else {"path": "m.bin", "schema": value}

    message = refused(roots, EMBEDDED_STORAGE_CONFIG, key="localMinIO", **where)

    assert message.startswith(f"{PULL_FAILED}storage {field} {value!r} {cause}")


@pytest.mark.parametrize(("claim", "cause"), [
    ("../elsewhere", "escapes the PVC directory ('..' is not allowed)"),
    ("..", "escapes the PVC directory ('..' is not allowed)"),
    ("claim/../../elsewhere", "escapes the PVC directory ('..' is not allowed)"),
    ("/etc", "must be one directory name under the PVC directory, not a path"),
    ("claim/sub", "must be one directory name under the PVC directory, not a path"),
    ("claim\\..", "contains a backslash"),
])
def test_claim_names_stay_in_the_pvc_directory(roots: Path, claim: str, cause: str) -> None:
    message = refused(roots, {}, path="x", params={"type": "pvc", "name": claim})

    assert message.startswith(f"{PULL_FAILED}PersistentVolumeClaim name {claim!r} {FROM_MODEL} {cause}")


def test_the_pvc_storage_uri_with_dot_dot_as_claim_is_refused(roots: Path) -> None:
    location = isvc_location("storageUri: 'pvc://../elsewhere/x'")

    message = refused(roots, {}, key=location.storage_key, path=location.path, params=location.storage_params)

    assert f"PersistentVolumeClaim name '..' {FROM_MODEL} escapes the PVC directory" in message


@pytest.mark.parametrize("key", ["p/../../x", "p/a\\..\\..\\x", "p/a\0"])
def test_s3_object_keys_cannot_place_files_outside_the_model_directory(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError, match=r"object key .* (escapes the model directory|contains a)"):
        object_target(tmp_path / "model", "p", key)


def test_object_keys_inside_land_under_the_model_directory(tmp_path: Path) -> None:
    assert object_target(tmp_path / "model", "p", "p/1/a.pb") == tmp_path / "model" / "1" / "a.pb"
    assert object_target(tmp_path / "model", "p/a.pb", "p/a.pb") == tmp_path / "model"
