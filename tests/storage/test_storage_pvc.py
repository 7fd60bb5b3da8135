"""The pvc puller: claims are host directories, mounted only when the storage-config names them (or allowAnyPVC)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import StorageError
from emulator.settings import Settings
from emulator.spec.storage_uri import parse_storage_uri
from emulator.storage import Puller
from emulator.storage.factory import build_puller
from tests.storage_support import pull

PVC_CONFIG = {"pvc1": {"type": "pvc", "name": "models-pvc-1"}, "pvc2": {"type": "pvc", "name": "models-pvc-2"}}
MODEL = "sklearn/mnist-svm.joblib"


@pytest.fixture
def pvc_root(tmp_path: Path) -> Path:
    root = tmp_path / "pvcs"
    for claim in ("models-pvc-1", "models-pvc-2", "models-pvc-3"):
        (root / claim / "sklearn").mkdir(parents=True)
        (root / claim / MODEL).write_bytes(claim.encode())
    return root


def make_puller(pvc_root: Path, *, allow_any_pvc: bool = False) -> Puller:
    return build_puller(Settings(pvc_root=pvc_root, local_s3_root=pvc_root / "none", allow_any_pvc=allow_any_pvc))


@pytest.mark.parametrize("uri", ["pvc://models-pvc-1/sklearn/mnist-svm.joblib",
                                 "pvc://models-pvc-2/sklearn/mnist-svm.joblib"])
def test_storage_uri_of_a_configured_claim_is_linked(pvc_root: Path, tmp_path: Path, uri: str) -> None:
    target = parse_storage_uri(uri)

    pulled = pull(make_puller(pvc_root), tmp_path / "models", PVC_CONFIG, path=target.path, params=target.parameters)

    claim = target.parameters["name"]
    assert pulled.model_path == tmp_path / "models" / "model-1" / "mnist-svm.joblib"
    assert pulled.model_path.is_symlink()
    assert pulled.model_path.readlink() == pvc_root.resolve() / claim / MODEL
    assert pulled.disk_size_bytes == len(claim)


def test_storage_parameters_name_the_claim(pvc_root: Path, tmp_path: Path) -> None:
    pulled = pull(make_puller(pvc_root), tmp_path / "models", PVC_CONFIG, path=MODEL,
                  params={"type": "pvc", "name": "models-pvc-1"})

    assert pulled.model_path.read_bytes() == b"models-pvc-1"


def test_claim_missing_from_the_storage_config_is_not_mounted(pvc_root: Path, tmp_path: Path) -> None:
    target = parse_storage_uri("pvc://models-pvc-3/sklearn/mnist-svm.joblib")

    with pytest.raises(StorageError) as failure:
        pull(make_puller(pvc_root), tmp_path / "models", PVC_CONFIG, path=target.path, params=target.parameters)

    message = failure.value.message
    assert "PersistentVolumeClaim 'models-pvc-3' is not mounted" in message
    assert "named: models-pvc-1, models-pvc-2" in message and "allowAnyPVC" in message


def test_allow_any_pvc_mounts_any_existing_claim(pvc_root: Path, tmp_path: Path) -> None:
    pulled = pull(make_puller(pvc_root, allow_any_pvc=True), tmp_path / "models", {}, path=MODEL,
                  params={"type": "pvc", "name": "models-pvc-3"})

    assert pulled.model_path.read_bytes() == b"models-pvc-3"


def test_allow_any_pvc_still_fails_for_a_claim_that_does_not_exist(pvc_root: Path, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="PersistentVolumeClaim 'models-pvc-4' not found"):
        pull(make_puller(pvc_root, allow_any_pvc=True), tmp_path / "models", {}, path=MODEL,
             params={"type": "pvc", "name": "models-pvc-4"})


@pytest.mark.parametrize(("name", "path"), [("../pvcs", MODEL), ("models-pvc-1", "../models-pvc-2/" + MODEL)])
def test_paths_escaping_the_claim_are_refused(pvc_root: Path, tmp_path: Path, name: str, path: str) -> None:
    with pytest.raises(StorageError, match=r"escapes the PVC directory|escapes the model directory"):
        pull(make_puller(pvc_root, allow_any_pvc=True), tmp_path / "models", {}, path=path,
             params={"type": "pvc", "name": name})


def test_missing_file_in_a_claim_is_named(pvc_root: Path, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unable to access model local path 'invalid/path' in "
                                           "PersistentVolumeClaim 'models-pvc-1'"):
        pull(make_puller(pvc_root), tmp_path / "models", PVC_CONFIG, key="pvc1", path="invalid/path")
