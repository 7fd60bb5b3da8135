"""The KServe SDK's `KServeClient` (create, get, wait_isvc_ready, delete) against a real `serve`.

`pip install kserve` would upgrade FastAPI and Starlette under the emulator, so the SDK is not in the test
extras: it runs in its own interpreter, named by MMEMU_KSERVE_PYTHON (a virtualenv with `kserve==0.21.0
kubernetes==35.0.0`: kubernetes 36.0.0 sends no kubeconfig token, and 37's pydantic client refuses kserve's
models; `make kserve` makes `.venv-kserve`, used when the variable is unset), or this one when it has
`kserve`. Skipped with the reason when there is neither.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import Served, serve_process

pytestmark = pytest.mark.integration

SCRIPT = """
import sys
from kubernetes import client
from kserve import (KServeClient, V1beta1InferenceService, V1beta1InferenceServiceSpec, V1beta1ModelFormat,
                    V1beta1ModelSpec, V1beta1PredictorSpec, V1beta1StorageSpec)

kserve = KServeClient(config_file=sys.argv[1])
model = V1beta1ModelSpec(model_format=V1beta1ModelFormat(name="sklearn"),
                         storage=V1beta1StorageSpec(key="localMinIO", path="sklearn/mnist-svm.joblib"))
isvc = V1beta1InferenceService(
    api_version="serving.kserve.io/v1beta1", kind="InferenceService",
    metadata=client.V1ObjectMeta(name="sdk", namespace="modelmesh-serving",
                                 annotations={"serving.kserve.io/deploymentMode": "ModelMesh"}),
    spec=V1beta1InferenceServiceSpec(predictor=V1beta1PredictorSpec(model=model)))
print("created", kserve.create(isvc)["metadata"]["name"])
print("got", kserve.get("sdk", namespace="modelmesh-serving")["spec"]["predictor"]["model"]["modelFormat"]["name"])
kserve.wait_isvc_ready("sdk", namespace="modelmesh-serving", timeout_seconds=180, polling_interval=2)
print("ready", kserve.is_isvc_ready("sdk", namespace="modelmesh-serving"))
kserve.delete("sdk", namespace="modelmesh-serving")
try:
    kserve.get("sdk", namespace="modelmesh-serving")
except RuntimeError as exc:
    print("gone", "(404)" in str(exc))
"""


@pytest.fixture(scope="module")
def kserve_python() -> str:
    given = os.environ.get("MMEMU_KSERVE_PYTHON")
    if given:
        return given
    made = ROOT / ".venv-kserve" / "bin" / "python"
    if made.exists():
        return str(made)
    probe = subprocess.run([sys.executable, "-c", "import kserve"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("the KServe SDK is not installed: set MMEMU_KSERVE_PYTHON to a python with kserve==0.21.0 "
                    "and kubernetes==35.0.0 (see this module's docstring)")
    return sys.executable


@pytest.fixture(scope="module")
def served(kserve_python: str, tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process([str(ROOT / "runtimes" / "mlserver-1.x.yaml")], cwd=ROOT,
                           cache_dir=tmp_path_factory.mktemp("kserve-sdk-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


def test_kserve_client_creates_gets_waits_and_deletes(kserve_python: str, served: Served) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([kserve_python, "-c", SCRIPT, str(served.kubeconfig)], capture_output=True, text=True,
                            timeout=300, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["created sdk", "got sklearn", "ready True", "gone True"]
