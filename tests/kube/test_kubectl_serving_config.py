"""The `model-serving-config` ConfigMap through the real `kubectl` against a real `serve`: `podsPerRuntime: 2`
gives two instances, `scaleToZero: {enabled: false}` keeps them when no model uses the runtime (and switching it
back on stops them), unknown keys come back as warnings, other ConfigMaps and a missing `config.yaml` are refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN, Served, serve_process
from tests.kubectl_support import kubectl, kubectl_env

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)")]

ISVC = "example-sklearn-mnist-svm"
SAMPLE = ROOT / "sample_models" / "sklearn-mnist-svm.yaml"


def configmap(tmp_path: Path, config: str, name: str = "model-serving-config") -> Path:
    path = tmp_path / f"{name}.yaml"
    indented = "".join(f"    {line}\n" for line in config.splitlines())
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  config.yaml: |\n{indented}")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process(["runtimes/mlserver-1.x.yaml", str(SAMPLE)], cwd=ROOT,
                           cache_dir=tmp_path_factory.mktemp("config-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def env(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return kubectl_env(served, tmp_path_factory.mktemp("kube-cache"))


def pod_names(env: dict[str, str]) -> list[str]:
    return [p["metadata"]["name"] for p in json.loads(kubectl(env, "get", "pods", "-o", "json").stdout)["items"]]


def until_pods(env: dict[str, str], count: int) -> list[str]:
    deadline = time.monotonic() + 120  # a bound on instances starting, not a timing assertion
    while len(names := pod_names(env)) != count and time.monotonic() < deadline:
        time.sleep(0.5)
    return names


def test_pods_per_runtime_two_gives_two_instances(env: dict[str, str], tmp_path: Path) -> None:
    kubectl(env, "wait", f"isvc/{ISVC}", "--for=condition=Ready", "--timeout=120s")
    assert len(pod_names(env)) == 1

    applied = kubectl(env, "apply", "-f", str(configmap(
        tmp_path, "podsPerRuntime: 2\nscaleToZero:\n  enabled: false\n  gracePeriodSeconds: 0\nnoSuchKey: 1\n")))

    assert "configmap/model-serving-config created" in applied.stdout
    assert "unknown key noSuchKey ignored" in applied.stderr
    assert len(until_pods(env, 2)) == 2
    table = kubectl(env, "get", "configmaps").stdout.split()
    assert table[:3] == ["NAME", "DATA", "AGE"] and table[3:5] == ["model-serving-config", "1"]
    status = subprocess.run([str(BIN / "modelmesh-emulator"), "status"], capture_output=True, text=True, env=env,
                            timeout=60, check=True).stdout
    assert "configmap/model-serving-config: pods_per_runtime=2, scale_to_zero_enabled=False, " in status


def test_scale_to_zero_disabled_keeps_the_instances(env: dict[str, str], tmp_path: Path) -> None:
    kubectl(env, "delete", "-f", str(SAMPLE))
    report = json.loads(kubectl(env, "get", "--raw", "/emulator/v1/servingconfig").stdout)
    assert report["settings"]["scale_to_zero_enabled"] is False and report["settings"]["pods_per_runtime"] == 2
    assert len(pod_names(env)) == 2

    kubectl(env, "apply", "-f", str(configmap(
        tmp_path, "podsPerRuntime: 2\nscaleToZero:\n  enabled: true\n  gracePeriodSeconds: 0\n")))

    assert until_pods(env, 0) == []


def test_only_model_serving_config_with_config_yaml_is_taken(env: dict[str, str], tmp_path: Path) -> None:
    other = kubectl(env, "apply", "-f", str(configmap(tmp_path, "podsPerRuntime: 3", name="my-config")),
                    check=False)
    assert other.returncode != 0 and 'reads only the ConfigMap "model-serving-config"' in other.stderr

    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: model-serving-config}\ndata: {other: x}\n")
    refused = kubectl(env, "apply", "-f", str(empty), check=False)
    assert refused.returncode != 0 and "User ConfigMap must contain a key named config.yaml" in refused.stderr

    wrong = kubectl(env, "apply", "-f", str(configmap(tmp_path, "podsPerRuntime: many")), check=False)
    assert wrong.returncode != 0 and "podsPerRuntime must be a whole number" in wrong.stderr

    kubectl(env, "delete", "configmap", "model-serving-config")
    report = json.loads(kubectl(env, "get", "--raw", "/emulator/v1/servingconfig").stdout)
    assert report["present"] is False and report["settings"]["pods_per_runtime"] == 1
