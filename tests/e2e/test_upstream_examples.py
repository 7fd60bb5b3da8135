"""Upstream ModelMesh manifests and models, used in place from ../shared, served unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import UPSTREAM_EXAMPLES
from tests.model_status import wait_until_settled
from tests.v2_client import grpc_infer, grpc_request, rest_request

pytestmark = pytest.mark.integration

TESTDATA = UPSTREAM_EXAMPLES / "testdata"


def test_upstream_mnist_svm_served_by_upstream_mlserver_runtime_predicts_8(
        make_settings: Callable[..., Settings], upstream_s3_root: Path) -> None:
    with EmulatorThread(make_settings(local_s3_root=upstream_s3_root)) as emu:
        lines = emu.apply_paths([TESTDATA / "config" / "runtimes",
                                 TESTDATA / "config" / "example-isvcs" / "example-mlserver-sklearn-mnist-isvc.yaml"])
        request = grpc_request("example-sklearn-mnist-svm")  # the same digit as upstream's docs
        grpc_reply = grpc_infer(emu.grpc_address, request)
        rest_reply = httpx.post(f"{emu.rest_url}/v2/models/example-sklearn-mnist-svm/infer",
                                json=rest_request("example-sklearn-mnist-svm"), timeout=60)
        status = wait_until_settled(emu, "example-sklearn-mnist-svm")

    assert "clusterservingruntime/mlserver-1.x created" in lines
    assert len([line for line in lines if line.startswith("clusterservingruntime/")]) == 4
    assert grpc_reply.model_name.startswith("example-sklearn-mnist-svm__isvc-")
    assert list(grpc_reply.outputs[0].contents.int64_contents) == [8]
    assert rest_reply.json()["outputs"][0]["data"] == [8]
    assert status["modelStatus"]["states"] == {"activeModelState": "Loaded", "targetModelState": ""}
    assert status["modelStatus"]["transitionStatus"] == "UpToDate"
    assert status["modelStatus"]["copies"] == {"failedCopies": 0, "totalCopies": 1}
