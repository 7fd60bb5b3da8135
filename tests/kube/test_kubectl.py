"""The real `kubectl` against a real `modelmesh-emulator serve`, through the kubeconfig `serve` writes.

The emulator starts with no manifests; kubectl applies the mlserver-1.x runtime and the sklearn sample, watches
the model load and waits for Ready, then patches, server-side applies, dry-runs, creates a Secret, explains and
deletes, as a user does against a cluster. The tests run in order on one emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SHARED
from tests.control.test_cli_e2e import Served, serve_process
from tests.kubectl_support import kubectl, kubectl_env

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (CI installs it)")]

ISVC = "example-sklearn-mnist-svm"
RUNTIME = ROOT / "runtimes" / "mlserver-1.x.yaml"
SAMPLE = ROOT / "sample_models" / "sklearn-mnist-svm.yaml"
CRDS = SHARED / "modelmesh-crds"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process([], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("kubectl-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def env(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return kubectl_env(served, tmp_path_factory.mktemp("kube-cache"))


def changed_copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    target = tmp_path / source.name
    text = source.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
    return target


def test_api_resources_lists_upstream_names(env: dict[str, str]) -> None:
    rows = {line.split()[0]: line.split() for line in kubectl(env, "api-resources").stdout.splitlines()[1:]}

    assert rows["inferenceservices"] == ["inferenceservices", "isvc", "serving.kserve.io/v1beta1", "true",
                                         "InferenceService"]
    assert rows["servingruntimes"] == ["servingruntimes", "serving.kserve.io/v1alpha1", "true", "ServingRuntime"]
    assert rows["clusterservingruntimes"][-2:] == ["false", "ClusterServingRuntime"]
    assert rows["predictors"][-1] == "Predictor" and rows["secrets"][-1] == "Secret"


def test_apply_watch_and_wait_until_the_model_is_ready(served: Served, env: dict[str, str]) -> None:
    watch = subprocess.Popen(["kubectl", "get", "isvc", "-w", "-o", "wide"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(240, watch.kill)  # a watch that never shows Loaded fails instead of hanging
    watchdog.start()
    seen: list[str] = []
    try:
        runtime = kubectl(env, "apply", "-f", str(RUNTIME))
        model = kubectl(env, "apply", "-f", str(SAMPLE))
        waited = kubectl(env, "wait", "--for=condition=Ready", f"isvc/{ISVC}", "--timeout=180s")
        assert watch.stdout is not None
        for line in watch.stdout:  # the watch's own Loaded event may come a moment after wait's
            seen.append(line)
            if " Loaded " in line:
                break
    finally:
        watchdog.cancel()
        watch.terminate()
        watch.wait(timeout=30)

    assert runtime.stdout == "clusterservingruntime.serving.kserve.io/mlserver-1.x created\n"
    assert model.stdout == f"inferenceservice.serving.kserve.io/{ISVC} created\n"
    assert waited.stdout == f"inferenceservice.serving.kserve.io/{ISVC} condition met\n"
    states = [word for line in seen if line.startswith(ISVC) for word in line.split()
              if word in ("Pending", "Loading", "Loaded")]
    assert states[0] in ("Pending", "Loading"), seen
    assert "Loading" in states and states[-1] == "Loaded", seen


def test_get_shows_upstreams_printer_columns(served: Served, env: dict[str, str]) -> None:
    header, row = kubectl(env, "get", "isvc").stdout.splitlines()

    columns = ["NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION", "LATESTREADYREVISION", "AGE"]
    if CRDS.is_dir():  # the oracle: the CRD's additionalPrinterColumns
        crd = yaml.safe_load((CRDS / "serving.kserve.io_inferenceservices.yaml").read_text())
        printer = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        assert columns == ["NAME", *(column["name"].upper() for column in printer)]
    assert header.split() == columns
    assert row.split()[:3] == [ISVC, f"grpc://127.0.0.1:{served.grpc_port}", "True"]


def test_namespaces_and_all_namespaces(env: dict[str, str]) -> None:
    namespaces = kubectl(env, "get", "ns", "-o", "name").stdout.split()
    everywhere = kubectl(env, "get", "isvc", "-A").stdout.splitlines()

    assert namespaces == ["namespace/modelmesh-serving"]
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert everywhere[1].split()[:2] == ["modelmesh-serving", ISVC]


def test_get_yaml_and_describe(env: dict[str, str]) -> None:
    obj = yaml.safe_load(kubectl(env, "get", "isvc", ISVC, "-o", "yaml").stdout)
    described = kubectl(env, "describe", "isvc", ISVC).stdout

    meta = obj["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and int(meta["resourceVersion"]) > 0
    assert "kubectl.kubernetes.io/last-applied-configuration" in meta["annotations"]
    assert {"type": "Ready", "status": "True"}.items() <= obj["status"]["conditions"][-1].items()
    assert f"Name:         {ISVC}" in described
    assert "Active Model State:  Loaded" in described


def test_apply_of_a_changed_file_patches_it(env: dict[str, str], tmp_path: Path) -> None:
    labelled = changed_copy(tmp_path, SAMPLE, "metadata:\n", "metadata:\n  labels:\n    team: a\n")
    configured = kubectl(env, "apply", "-f", str(labelled))
    again = kubectl(env, "apply", "-f", str(labelled))
    obj = json.loads(kubectl(env, "get", "isvc", "-l", "team=a", "-o", "json").stdout)["items"]

    assert configured.stdout == f"inferenceservice.serving.kserve.io/{ISVC} configured\n"
    assert again.stdout == f"inferenceservice.serving.kserve.io/{ISVC} unchanged\n"
    assert [item["metadata"]["name"] for item in obj] == [ISVC]
    assert obj[0]["metadata"]["generation"] == 1, "a label is metadata: the generation stays"


def test_server_side_apply_and_server_dry_run(env: dict[str, str], tmp_path: Path) -> None:
    applied = kubectl(env, "apply", "--server-side", "-f", str(SAMPLE))
    managers = json.loads(kubectl(env, "get", "isvc", ISVC, "-o", "json", "--show-managed-fields").stdout)
    other = changed_copy(tmp_path, SAMPLE, f"name: {ISVC}", "name: dry-run-only")
    dry = kubectl(env, "apply", "--dry-run=server", "-f", str(other))
    missing = kubectl(env, "get", "isvc", "dry-run-only", check=False)

    assert applied.stdout == f"inferenceservice.serving.kserve.io/{ISVC} serverside-applied\n"
    assert {(m["manager"], m["operation"]) for m in managers["metadata"]["managedFields"]} >= {("kubectl", "Apply")}
    assert dry.stdout == "inferenceservice.serving.kserve.io/dry-run-only created (server dry run)\n"
    assert missing.returncode == 1
    assert 'inferenceservices.serving.kserve.io "dry-run-only" not found' in missing.stderr


def test_a_typo_is_refused_with_the_api_servers_message(env: dict[str, str], tmp_path: Path) -> None:
    typo = changed_copy(tmp_path, SAMPLE, f"name: {ISVC}", "name: typo")
    typo.write_text(typo.read_text().replace("    model:\n", "    modle: {}\n    model:\n"))

    result = kubectl(env, "apply", "-f", str(typo), check=False)

    assert result.returncode == 1
    assert ('InferenceService in version "v1beta1" cannot be handled as a InferenceService: strict decoding error: '
            'unknown field "spec.predictor.modle"') in result.stderr
    assert kubectl(env, "get", "isvc", "typo", check=False).returncode == 1


def test_create_secret_generic_in_kubectls_protobuf(env: dict[str, str]) -> None:
    entry = json.dumps({"type": "s3", "access_key_id": "k", "secret_access_key": "not-shown", "bucket": "b",
                        "endpoint_url": "http://127.0.0.1:9"})
    created = kubectl(env, "create", "secret", "generic", "storage-config", f"--from-literal=extra={entry}")
    secret = json.loads(kubectl(env, "get", "secret", "storage-config", "-o", "json").stdout)

    assert created.stdout == "secret/storage-config created\n"
    assert secret["data"] == {"extra": "PHJlZGFjdGVkPg=="}  # base64 of <redacted>
    assert kubectl(env, "delete", "secret", "storage-config").returncode == 0


def test_explain_reads_the_openapi_schema(env: dict[str, str]) -> None:
    explained = kubectl(env, "explain", "isvc.spec.predictor").stdout

    assert "KIND:       InferenceService" in explained
    assert "FIELD: predictor" in explained
    assert "  model\t<" in explained


def test_delete_by_file(env: dict[str, str]) -> None:
    deleted = kubectl(env, "delete", "-f", str(SAMPLE))
    gone = kubectl(env, "get", "isvc", check=False)

    assert deleted.stdout == f'inferenceservice.serving.kserve.io "{ISVC}" deleted\n'
    assert gone.stderr == "No resources found in modelmesh-serving namespace.\n"


def test_a_wrong_token_is_refused(env: dict[str, str], tmp_path: Path, served: Served) -> None:
    config = yaml.safe_load(served.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "wrong"
    forged = tmp_path / "kubeconfig"
    forged.write_text(yaml.safe_dump(config))

    result = kubectl(env | {"KUBECONFIG": str(forged)}, "get", "isvc", check=False)

    assert result.returncode == 1
    assert "You must be logged in to the server" in result.stderr
    assert os.stat(served.kubeconfig).st_mode & 0o077 == 0
