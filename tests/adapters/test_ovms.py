"""The OpenVINO Model Server adapter's files, as ModelMesh's writes them: the model layout OVMS loads and the
`model_config_list` it reloads. OVMS itself runs only from its upstream image: without it, a clear failure."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import docker.errors
import pytest

from emulator.adapters.ovms_layout import model_config_list, write_ovms_layout
from emulator.adapters.triton_layout import LayoutError
from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.conftest import UPSTREAM_EXAMPLES
from tests.docker_support import docker_client_or_skip
from tests.model_status import wait_until_settled


def as_seen_by_runtime(path: Path) -> str:
    return f"/models/{path.name}"


def test_an_onnx_file_is_linked_as_version_1_model_onnx(tmp_path: Path) -> None:
    pulled = tmp_path / "mnist-8.onnx"
    pulled.write_bytes(b"onnx")

    write_ovms_layout(tmp_path / "_ovms_models" / "m1", "onnx", pulled, as_seen_by_runtime)

    link = tmp_path / "_ovms_models" / "m1" / "1" / "model.onnx"
    assert os.readlink(link) == "/models/mnist-8.onnx"


def test_an_openvino_ir_directory_uses_its_largest_version(tmp_path: Path) -> None:
    pulled = tmp_path / "ir"
    for version in ("1", "3", "20"):
        (pulled / version).mkdir(parents=True)
        (pulled / version / "model.xml").write_text("<net/>")

    write_ovms_layout(tmp_path / "out" / "m2", "openvino_ir:opset1", pulled, as_seen_by_runtime)

    assert [entry.name for entry in (tmp_path / "out" / "m2").iterdir()] == ["20"]
    assert os.readlink(tmp_path / "out" / "m2" / "20") == "/models/20"


def test_a_directory_without_versions_becomes_version_1(tmp_path: Path) -> None:
    pulled = tmp_path / "model-dir"
    pulled.mkdir()
    (pulled / "model.xml").write_text("<net/>")

    write_ovms_layout(tmp_path / "out" / "m3", "openvino_ir", pulled, as_seen_by_runtime)

    assert os.readlink(tmp_path / "out" / "m3" / "1") == "/models/model-dir"


def test_missing_model_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"Error calling stat on model file: .*/nothing-here"):
        write_ovms_layout(tmp_path / "out" / "m4", "onnx", tmp_path / "nothing-here", as_seen_by_runtime)


def test_model_config_list_names_each_model_and_its_base_path() -> None:
    config = json.loads(model_config_list({"a__isvc-1": "/models/_ovms_models/a__isvc-1",
                                           "b__isvc-2": "/models/_ovms_models/b__isvc-2"}))

    assert config == {"model_config_list": [
        {"config": {"name": "a__isvc-1", "base_path": "/models/_ovms_models/a__isvc-1"}},
        {"config": {"name": "b__isvc-2", "base_path": "/models/_ovms_models/b__isvc-2"}},
    ]}


OVMS_MANIFEST = UPSTREAM_EXAMPLES / "testdata" / "config" / "runtimes" / "ovms-1.x.yaml"
OVMS_IMAGE = "openvino/model_server:2022.2"
OPENVINO_ISVC = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: openvino-model
  annotations: {serving.kserve.io/deploymentMode: ModelMesh}
spec:
  predictor:
    model:
      modelFormat: {name: openvino_ir}
      storage: {key: localMinIO, path: sklearn/mnist-svm.joblib}
"""


@pytest.mark.docker
@pytest.mark.integration
def test_ovms_without_its_image_fails_naming_the_image(make_settings: Callable[..., Settings],
                                                       sample_s3_root: Path) -> None:
    if not OVMS_MANIFEST.is_file():
        pytest.skip(f"{OVMS_MANIFEST} is not present")
    client = docker_client_or_skip()
    try:
        client.images.get(OVMS_IMAGE)
        pytest.skip(f"{OVMS_IMAGE} is present here: this test is about a machine without it")
    except docker.errors.ImageNotFound:
        pass
    with EmulatorThread(make_settings(launcher="docker", local_s3_root=sample_s3_root)) as emu:
        emu.apply(OVMS_MANIFEST)
        emu.apply_text(OPENVINO_ISVC)
        status = wait_until_settled(emu, "openvino-model")["modelStatus"]

    assert status["states"]["activeModelState"] == "FailedToLoad"
    assert status["lastFailureInfo"]["reason"] == "RuntimeUnhealthy"
    assert f"image '{OVMS_IMAGE}' is not present in the Docker daemon" in status["lastFailureInfo"]["message"]
