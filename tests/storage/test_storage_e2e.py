"""Upstream FVT storage manifests, unchanged, through S3 (moto), PVC dirs and HTTPS into MLServer and back over gRPC."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import ROOT, UPSTREAM_EXAMPLES
from tests.file_server import FileServer
from tests.model_status import wait_until_settled
from tests.s3_server import S3Server
from tests.tls_certs import TestCA
from tests.v2_client import grpc_infer, grpc_request

pytestmark = pytest.mark.integration

ISVCS = UPSTREAM_EXAMPLES / "testdata" / "isvcs"
BUCKET = "modelmesh-example-models"
GITHUB_URL = "https://github.com/kserve/modelmesh-minio-examples/blob/main/sklearn/mnist-svm.joblib?raw=true"
SERVING = {  # manifest → InferenceService name; each reaches Loaded and predicts 8 (FVT row 1)
    "new-format-mm.yaml": "example-sklearn-isvc2",
    "old-format-mm.yaml": "example-sklearn-isvc",
    "isvc-pvc-uri.yaml": "isvc-pvc-storage-uri",
    "isvc-pvc-path.yaml": "isvc-pvc-storage-path",
    "isvc-pvc-2.yaml": "isvc-pvc2",
    "isvc-https.yaml": "isvc-https",
}


@pytest.fixture(scope="module")
def upstream_bucket() -> Iterator[S3Server]:
    if not UPSTREAM_EXAMPLES.is_dir():
        pytest.skip("../shared/modelmesh-examples is not present")
    with S3Server(bucket=BUCKET) as s3:
        s3.seed_dir(BUCKET, UPSTREAM_EXAMPLES, skip=("testdata",))
        yield s3


def storage_config_secret(entries: dict[str, dict[str, Any]]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storage-config"},
                           "stringData": {key: json.dumps(value) for key, value in entries.items()}})


def pvc_dirs(root: Path, *claims: str) -> Path:
    """Each claim holds a copy of the bucket's sklearn/ folder (the FVT's hold the whole bucket)."""
    for claim in claims:
        shutil.copytree(UPSTREAM_EXAMPLES / "sklearn", root / claim / "sklearn")
    return root


def test_fvt_storage_manifests_load_from_s3_pvc_and_https_and_predict(
        make_settings: Callable[..., Settings], upstream_bucket: S3Server, tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    site = tmp_path / "site" / "kserve" / "modelmesh-minio-examples" / "blob"
    site.mkdir(parents=True)
    (site / "main").symlink_to(UPSTREAM_EXAMPLES)
    # models-pvc-3 exists on the host too: it fails only because the storage-config does not name it.
    pvc_root = pvc_dirs(tmp_path / "pvcs", "models-pvc-1", "models-pvc-2", "models-pvc-3")
    settings = make_settings(pvc_root=pvc_root, local_s3_root=tmp_path / "no-local-s3", launcher="process")
    secret = storage_config_secret({
        "localMinIO": upstream_bucket.storage_entry(),
        "pvc1": {"type": "pvc", "name": "models-pvc-1"},
        "pvc2": {"type": "pvc", "name": "models-pvc-2"},
        "default_http": {"type": "http", "certificate": ca.pem},  # the HTTPS stand-in for github.com
    })

    with FileServer(tmp_path / "site", tls=ca.server_context(ca.server_pair())) as https, \
            EmulatorThread(settings) as emu:
        lines = emu.apply_paths([ROOT / "runtimes" / "mlserver-1.x.yaml"])
        lines += emu.apply_text(secret, "storage-config.yaml")
        lines += emu.apply_paths([ISVCS / name for name in SERVING if name != "isvc-https.yaml"])
        lines += emu.apply_paths([ISVCS / "isvc-pvc-3.yaml"])
        https_manifest = (ISVCS / "isvc-https.yaml").read_text()
        assert GITHUB_URL in https_manifest
        lines += emu.apply_text(https_manifest.replace(GITHUB_URL, https.url(GITHUB_URL.split("/", 3)[3])),
                                "isvc-https.yaml")
        statuses = {name: wait_until_settled(emu, name) for name in [*SERVING.values(), "isvc-pvc3"]}
        predictions = {}
        for name in SERVING.values():
            request = grpc_request("example-sklearn-mnist-svm")
            request.model_name = name
            reply = grpc_infer(emu.grpc_address, request)
            predictions[name] = (reply.model_name.split("__isvc-")[0], list(reply.outputs[0].contents.int64_contents))

    assert not [line for line in lines if line.startswith("error")], lines
    for name in SERVING.values():
        assert statuses[name]["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
        assert "lastFailureInfo" not in statuses[name]["modelStatus"]
        assert predictions[name] == (name, [8])
    assert [r.path for r in https.requests] == ["/kserve/modelmesh-minio-examples/blob/main/sklearn/"
                                                "mnist-svm.joblib?raw=true"]
    failed = statuses["isvc-pvc3"]["modelStatus"]
    assert failed["states"]["activeModelState"] == "FailedToLoad"
    assert failed["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert failed["lastFailureInfo"]["location"]
    assert "PersistentVolumeClaim 'models-pvc-3' is not mounted" in failed["lastFailureInfo"]["message"]
