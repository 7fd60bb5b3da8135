"""Events seen through the real `kubectl` against a real `serve`: why a model failed to load (`describe isvc`),
which model an eviction removed and for which (`get events`), streamed by `get events --watch`.

One runtime of 130Mi (room for two copies of the sample SVM) serves three InferenceServices of it and one whose
model file does not exist; the churn guard is off so a request may evict a model used seconds ago.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import Served, serve_process
from tests.e2e.test_lifecycle import SVM, isvc_yaml, runtime_yaml
from tests.kubectl_support import kubectl, kubectl_env

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)")]

REQUEST = json.loads((ROOT / "sample_models" / "requests" / "example-sklearn-mnist-svm.json").read_text())
EXPECTED = json.loads((ROOT / "sample_models" / "requests" / "example-sklearn-mnist-svm.expected.json").read_text())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    manifests = tmp_path_factory.mktemp("events-manifests")
    (manifests / "runtime.yaml").write_text(runtime_yaml("small", "sklearn", memory="130Mi"))
    (manifests / "models.yaml").write_text("---".join(
        [isvc_yaml(f"svm-{name}", "sklearn", SVM) for name in "abc"]
        + [isvc_yaml("broken", "sklearn", "sklearn/no-such-model.joblib")]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMEMU_MIN_CHURN_AGE_S", "0")
        served = serve_process([str(manifests)], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("events-cache"),
                               extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def env(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return kubectl_env(served, tmp_path_factory.mktemp("kube-cache"))


def infer(served: Served, name: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{served.rest_port}/v2/models/{name}/infer", json=REQUEST, timeout=120)


def events(env: dict[str, str], *selector: str) -> list[dict]:
    return json.loads(kubectl(env, "get", "events", *selector, "-o", "json").stdout)["items"]


def test_describe_shows_why_a_model_did_not_load(served: Served, env: dict[str, str]) -> None:
    failed_request = infer(served, "broken")
    assert failed_request.status_code != 200

    described = kubectl(env, "describe", "isvc", "broken").stdout
    section = described.split("\nEvents:\n", 1)[1]

    failed = next(line for line in section.splitlines() if "FailedToLoad" in line)
    assert failed.split()[0] == "Warning"
    assert "ModelLoadFailed: Failed to pull model from storage" in failed
    assert "sklearn/no-such-model.joblib" in failed
    pulling = next(line for line in section.splitlines() if "Pulling" in line)
    assert "from sklearn/no-such-model.joblib (storage key localMinIO)" in pulling
    selected = next(line for line in section.splitlines() if "RuntimeSelected" in line)
    assert "runtime small selected for mt:sklearn" in selected


def test_an_eviction_names_the_evicted_model_and_the_one_it_made_room_for(served: Served,
                                                                            env: dict[str, str]) -> None:
    for name in ("svm-a", "svm-b", "svm-c", "svm-a"):
        response = infer(served, name)
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == EXPECTED["outputs"][0]["data"]

    evicted = events(env, "--field-selector", "reason=Evicted")
    victims = {event["involvedObject"]["name"] for event in evicted}
    assert victims, "three models in room for two: something was evicted"
    for event in evicted:
        assert event["involvedObject"]["kind"] == "InferenceService"
        assert event["source"]["component"] == "modelmesh-emulator"
        assert event["message"].startswith(f"model {event['involvedObject']['name']}__isvc-")
        assert "to make room for svm-" in event["message"] and "last used" in event["message"]
    for_others = events(env, "--field-selector", "reason=EvictedOther")
    assert {e["message"] for e in for_others} == {e["message"] for e in evicted}
    described = kubectl(env, "describe", "isvc", "svm-c").stdout.split("\nEvents:\n", 1)[1]
    assert "EvictedOther" in described and "Loaded" in described
    pulled = events(env, "--field-selector", "reason=Pulled,involvedObject.name=svm-c")
    assert pulled and all(e["message"].startswith("pulled model svm-c__isvc-") and " bytes in " in e["message"]
                          for e in pulled)


def test_repeated_events_are_counted_and_watch_streams_new_ones(served: Served, env: dict[str, str]) -> None:
    watch = subprocess.Popen(["kubectl", "get", "events", "--watch-only", "-o", "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(120, watch.kill)  # a watch that never shows the event fails instead of hanging
    watchdog.start()
    try:
        infer(served, "svm-b")
        infer(served, "svm-c")  # one of them had to be loaded again, evicting another
        assert watch.stdout is not None
        buffered = ""
        for line in watch.stdout:
            buffered += line
            if line.startswith("}"):
                event = json.loads(buffered)
                buffered = ""
                if event["reason"] == "Loaded":
                    break
        assert event["involvedObject"]["name"] in ("svm-b", "svm-c")
    finally:
        watchdog.cancel()
        watch.kill()
        watch.wait()
    loaded = [e for e in events(env, "--field-selector", "reason=Loading") if e["count"] > 1]
    assert loaded, "a model loaded again on the same instance is one Loading event counted twice"
    assert all(e["lastTimestamp"] >= e["firstTimestamp"] for e in loaded)


def test_runtime_instance_events_are_on_the_serving_runtime(env: dict[str, str]) -> None:
    on_runtime = events(env, "--field-selector", "involvedObject.kind=ServingRuntime,involvedObject.name=small")

    reasons = [event["reason"] for event in on_runtime]
    assert "InstanceStarting" in reasons and "InstanceReady" in reasons
    ready = next(event for event in on_runtime if event["reason"] == "InstanceReady")
    assert ready["involvedObject"]["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert "capacity" in ready["message"] and ready["metadata"]["namespace"] == "modelmesh-serving"
