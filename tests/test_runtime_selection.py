"""ModelMesh's four built-in runtime manifests, used unchanged from ../shared: they load, list, resolve their
kustomize image names, and select runtimes for models exactly as upstream's label matching does."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.adapters.runtime_env import adapter_env
from emulator.errors import RuntimeStartError
from emulator.launchers.process import ProcessLauncher
from emulator.launchers.upstream_images import kustomize_image
from emulator.registry import Registry, RuntimeSelectionError
from emulator.spec import ServingRuntime, load_paths, load_text
from tests.conftest import ROOT, UPSTREAM_EXAMPLES
from tests.control.test_cli_e2e import BIN, Served, serve_process

RUNTIMES = UPSTREAM_EXAMPLES / "testdata" / "config" / "runtimes"
UPSTREAM_NAMES = ["mlserver-1.x", "ovms-1.x", "torchserve-0.x", "triton-2.x"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    if not RUNTIMES.is_dir():
        pytest.skip(f"{RUNTIMES} is not present")
    registry = Registry()
    for manifest in load_paths([RUNTIMES]):
        registry.apply(manifest)
    return registry


def runtime(registry: Registry, name: str) -> ServingRuntime:
    found = registry.runtime(name)
    assert found is not None
    return found


def isvc(name: str, model: str) -> str:
    return f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    serving.kserve.io/deploymentMode: ModelMesh
spec:
  predictor:
    model:
{model}
      storage:
        key: localMinIO
        path: some/model
"""


def selected(registry: Registry, model: str) -> list[str]:
    (manifest,) = load_text(isvc("m", model))
    registry.apply(manifest)
    registered = registry.model("m")
    assert registered is not None
    try:
        return [rt.name for rt in registry.runtimes_for(registered)]
    except RuntimeSelectionError as exc:
        return [f"{exc.reason}: {exc}"]


def test_the_four_upstream_runtimes_load_unchanged(registry: Registry) -> None:
    assert [rt.name for rt in registry.effective_runtimes()] == UPSTREAM_NAMES
    server_types = {rt.name: rt.spec.built_in_adapter.server_type for rt in registry.effective_runtimes()
                    if rt.spec.built_in_adapter}
    assert server_types == {"mlserver-1.x": "mlserver", "ovms-1.x": "ovms", "torchserve-0.x": "torchserve",
                            "triton-2.x": "triton"}


@pytest.mark.parametrize(("model", "expected"), [
    ("      modelFormat: {name: onnx}", ["triton-2.x"]),  # ovms lists onnx without autoSelect
    ("      modelFormat: {name: pytorch-mar}", ["torchserve-0.x"]),
    ("      modelFormat: {name: pytorch}", ["triton-2.x"]),
    ("      modelFormat: {name: openvino_ir}", ["ovms-1.x"]),
    ("      modelFormat: {name: sklearn}", ["mlserver-1.x"]),  # triton's sklearn is autoSelect: false
    ("      modelFormat: {name: tensorflow, version: '2'}", ["triton-2.x"]),
    ("      modelFormat: {name: keras}", ["triton-2.x"]),
    ("      modelFormat: {name: onnx}\n      runtime: ovms-1.x", ["ovms-1.x"]),
    ("      modelFormat: {name: sklearn}\n      runtime: triton-2.x", ["triton-2.x"]),
    ("      modelFormat: {name: onnx}\n      protocolVersion: grpc-v2", ["triton-2.x"]),
    ("      modelFormat: {name: openvino_ir}\n      protocolVersion: grpc-v2",
     ["NoSupportingRuntime: No ServingRuntime supports specified model type and/or protocol"]),
    ("      modelFormat: {name: onnx, version: '2'}",
     ["NoSupportingRuntime: No ServingRuntime supports specified model type and/or protocol"]),
    ("      modelFormat: {name: onnx}\n      runtime: onnx-runtime",
     ["RuntimeNotRecognized: Specified runtime name not recognized"]),
])
def test_runtime_selection_matches_upstream_labels(registry: Registry, model: str, expected: list[str]) -> None:
    assert selected(registry, model) == expected


def test_kustomize_image_names_resolve_as_upstream() -> None:
    assert kustomize_image("mlserver-1:replace") == "seldonio/mlserver:1.3.2"
    assert kustomize_image("tritonserver-2:replace") == "nvcr.io/nvidia/tritonserver:23.04-py3"
    assert kustomize_image("ovms-1:replace") == "openvino/model_server:2022.2"
    assert kustomize_image("torchserve-0:replace") == "pytorch/torchserve:0.7.1-cpu"
    assert kustomize_image("registry.local:5000/mlserver-1:replace") == "registry.local:5000/mlserver-1:replace"
    assert kustomize_image("modelmesh-emulator/mlserver:1.7.1") == "modelmesh-emulator/mlserver:1.7.1"


def test_runtime_version_is_the_resolved_image_tag(registry: Registry) -> None:
    versions = {name: adapter_env(runtime(registry, name)).runtime_version for name in UPSTREAM_NAMES}
    assert versions == {"mlserver-1.x": "1.3.2", "ovms-1.x": "2022.2", "torchserve-0.x": "0.7.1-cpu",
                        "triton-2.x": "23.04-py3"}


def test_ovms_as_a_process_without_openvino_names_its_image_and_the_package(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "openvino" else find_spec(name, *args))
    with pytest.raises(RuntimeStartError) as caught:
        asyncio.run(ProcessLauncher().start(runtime(registry, "ovms-1.x"), "ovms-1.x-0", tmp_path))

    message = str(caught.value)
    assert "'openvino/model_server:2022.2'" in message
    assert "docker launcher" in message
    assert "`pip install openvino`" in message


@pytest.fixture(scope="module")
def served_runtimes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not RUNTIMES.is_dir():
        pytest.skip(f"{RUNTIMES} is not present")
    served = serve_process([str(RUNTIMES)], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("runtimes-cache"))
    yield served
    served.stop()


def test_get_clusterservingruntimes_lists_the_four_with_their_formats(served_runtimes: Served) -> None:
    result = subprocess.run([str(BIN / "modelmesh-emulator"), "get", "clusterservingruntimes"], capture_output=True,
                            text=True, cwd=ROOT, env=served_runtimes.env,
                            timeout=120)

    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0].split()[:4] == ["NAME", "DISABLED", "MODELTYPE", "CONTAINERS"]
    assert [line.split()[:3] for line in lines[1:]] == [["mlserver-1.x", "sklearn", "mlserver"],
                                                        ["ovms-1.x", "openvino_ir", "ovms"],
                                                        ["torchserve-0.x", "pytorch-mar", "torchserve"],
                                                        ["triton-2.x", "keras", "triton"]]
