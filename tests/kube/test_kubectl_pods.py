"""Runtime instances as Pods through the real `kubectl` against a real `serve`: `get pods` lists the MLServer
instance, `logs` shows MLServer's own log, `delete pod` replaces the instance and the model answers again."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN, Served, serve_process
from tests.kubectl_support import kubectl, kubectl_env

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)")]

ISVC = "example-sklearn-mnist-svm"
REQUEST = json.loads((ROOT / "sample_models" / "requests" / f"{ISVC}.json").read_text())
EXPECTED = json.loads((ROOT / "sample_models" / "requests" / f"{ISVC}.expected.json").read_text())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process(["runtimes/mlserver-1.x.yaml", "sample_models/sklearn-mnist-svm.yaml"], cwd=ROOT,
                           cache_dir=tmp_path_factory.mktemp("pods-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def env(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return kubectl_env(served, tmp_path_factory.mktemp("kube-cache"))


def answer(served: Served) -> list[int]:
    response = httpx.post(f"http://127.0.0.1:{served.rest_port}/v2/models/{ISVC}/infer", json=REQUEST, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"]


def pods(env: dict[str, str]) -> list[dict]:
    return json.loads(kubectl(env, "get", "pods", "-o", "json").stdout)["items"]


def test_get_pods_lists_the_runtime_instance(served: Served, env: dict[str, str]) -> None:
    assert answer(served) == EXPECTED["outputs"][0]["data"]

    (pod,) = pods(env)
    assert pod["metadata"]["name"].startswith("modelmesh-serving-mlserver-1.x-")
    assert pod["metadata"]["labels"]["modelmesh-service"] == "modelmesh-serving"
    assert pod["metadata"]["labels"]["name"] == "modelmesh-serving-mlserver-1.x"
    assert pod["status"]["phase"] == "Running"
    assert [c["name"] for c in pod["status"]["containerStatuses"]] == ["mlserver"]
    table = kubectl(env, "get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == [pod["metadata"]["name"], "1/1", "Running", "0"]


def test_the_runtime_status_shows_its_instances_models_and_capacity(env: dict[str, str]) -> None:
    (pod,) = pods(env)

    runtime = json.loads(kubectl(env, "get", "clusterservingruntime", "mlserver-1.x", "-o", "json").stdout)

    status = runtime["status"]
    assert status["readyInstances"] == 1 and status["replicas"] == 1 and status["modelsLoaded"] == 1
    assert 0 < status["capacity"]["usedBytes"] <= status["capacity"]["totalBytes"]
    (instance,) = status["instances"]
    assert instance["pod"] == pod["metadata"]["name"] and instance["ready"] and instance["modelsLoaded"] == 1


def test_describe_shows_the_files_the_adapter_wrote(env: dict[str, str]) -> None:
    described = subprocess.run([str(BIN / "modelmesh-emulator"), "describe", "isvc", ISVC], capture_output=True,
                               text=True, env=env, timeout=60, check=True).stdout

    files = described.split("    Files in mlserver-1.x-", 1)[1]
    assert "_mlserver_models/example-sklearn-mnist-svm__isvc-" in files
    assert "/model-settings.json" in files and '"implementation": "mlserver_sklearn.SKLearnModel"' in files
    assert "mnist-svm.joblib -> " in files  # the pulled file, linked, not copied
    events = described.split("\nEvents:\n", 1)[1].splitlines()
    assert events[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert any(line.split()[:2] == ["Normal", "Loaded"] and "modelmesh-emulator" in line for line in events)


def test_logs_show_mlservers_log(env: dict[str, str]) -> None:
    (pod,) = pods(env)
    name = pod["metadata"]["name"]

    log = kubectl(env, "logs", name).stdout
    assert any(line in log for line in ("Uvicorn running", "gRPC server running"))  # MLServer's startup lines
    tail = kubectl(env, "logs", name, "-c", "mlserver", "--tail", "2").stdout
    assert 1 <= len(tail.splitlines()) <= 2 and tail.splitlines()[-1] in log
    wrong = kubectl(env, "logs", name, "-c", "no-such-container", check=False)
    assert wrong.returncode != 0 and f"container no-such-container is not valid for pod {name}" in wrong.stderr


def test_logs_follow_streams_what_the_runtime_writes(served: Served, env: dict[str, str]) -> None:
    (pod,) = pods(env)
    follow = subprocess.Popen(["kubectl", "logs", "-f", "--tail", "0", pod["metadata"]["name"]],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(60, follow.kill)
    watchdog.start()
    try:
        # a request for a model MLServer does not know makes it log an error (the emulator's request is routed)
        httpx.post(f"http://127.0.0.1:{served.rest_port}/v2/models/no-such-model/infer", json=REQUEST, timeout=30)
        answer(served)
        assert follow.stdout is not None
        first = follow.stdout.readline()
        assert first.strip(), "kubectl logs -f printed what the runtime wrote after it started"
    finally:
        watchdog.cancel()
        follow.kill()
        follow.wait()


def test_delete_pod_starts_a_new_instance_and_the_model_answers_again(served: Served, env: dict[str, str]) -> None:
    (old,) = pods(env)

    kubectl(env, "delete", "pod", old["metadata"]["name"])
    deadline = time.monotonic() + 120
    while not (running := pods(env)) and time.monotonic() < deadline:  # the new instance is starting
        time.sleep(0.5)
    (new,) = running

    assert new["metadata"]["name"] != old["metadata"]["name"]
    assert new["metadata"]["name"].startswith("modelmesh-serving-mlserver-1.x-")
    assert answer(served) == EXPECTED["outputs"][0]["data"]
    reasons = [e["reason"] for e in json.loads(kubectl(env, "get", "events", "-A", "-o", "json").stdout)["items"]
               if e["involvedObject"]["name"] == "mlserver-1.x"]
    assert "InstanceDeleted" in reasons and reasons.count("InstanceReady") == 2


def test_objects_in_any_namespace_and_a_deleted_namespace_deletes_them(env: dict[str, str]) -> None:
    kubectl(env, "apply", "-n", "team-a", "-f", str(ROOT / "sample_models" / "sklearn-mnist-svm.yaml"))

    rows = [line.split()[:2] for line in kubectl(env, "get", "isvc", "-A").stdout.splitlines()[1:]]
    assert rows == [["modelmesh-serving", ISVC], ["team-a", ISVC]]

    deleted = kubectl(env, "delete", "namespace", "team-a", "--wait=false")
    assert 'namespace "team-a" deleted' in deleted.stdout
    rows = [line.split()[:2] for line in kubectl(env, "get", "isvc", "-A").stdout.splitlines()[1:]]
    assert rows == [["modelmesh-serving", ISVC]]
