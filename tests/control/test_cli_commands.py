"""The kubectl-like commands, run as a user runs them, against a real `modelmesh-emulator serve` subprocess.

The emulator serves a temporary directory (the mlserver-1.x runtime and the sklearn sample), so the tests can
also edit, add and remove watched files. After bad input of every kind, the model still answers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN, Served, serve_process
from tests.v2_client import REQUESTS

pytestmark = pytest.mark.integration

ISVC = "example-sklearn-mnist-svm"
REQUEST = REQUESTS / f"{ISVC}.json"
NOT_FOUND = 'error: inferenceservices.serving.kserve.io "nope" not found\n'


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("watched")
    shutil.copy(ROOT / "runtimes" / "mlserver-1.x.yaml", directory)
    shutil.copy(ROOT / "sample_models" / "sklearn-mnist-svm.yaml", directory)
    return directory


@pytest.fixture(scope="module")
def served(watched: Path, tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process([str(watched)], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("cli-commands-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    wait_until(served, lambda: isvc_json(served, ISVC)["status"]["modelStatus"]["states"]["activeModelState"]
               == "Loaded")
    yield served
    served.stop()


def cli(served: Served, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "modelmesh-emulator"), *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=served.env, timeout=120)


def isvc_json(served: Served, name: str) -> dict:
    return httpx.get(f"{served.api_url}/apis/serving.kserve.io/v1beta1/namespaces/modelmesh-serving/"
                     f"inferenceservices/{name}", headers=served.headers, verify=served.verify).json()


def wait_until(served: Served, check, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out; emulator output:\n" + "\n".join(served.lines))
        time.sleep(0.1)


def infer(served: Served) -> str:
    """The concrete model id that answered a REST inference (which must succeed and say 8)."""
    reply = httpx.post(f"http://127.0.0.1:{served.rest_port}/v2/models/{ISVC}/infer", content=REQUEST.read_bytes(),
                       timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["outputs"][0]["data"] == [8]
    return reply.json()["model_name"]


def test_get_isvc_prints_kubectl_columns(served: Served) -> None:
    result = cli(served, "get", "isvc")

    header, row = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert header.split() == ["NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION",
                              "LATESTREADYREVISION", "AGE"]  # upstream's printer columns: no traffic in ModelMesh
    assert re.fullmatch(rf"{ISVC} +grpc://127\.0\.0\.1:{served.grpc_port} +True +\d+[smh]\S*", row), row


def test_get_wide_shows_the_concrete_model_and_its_instance(served: Served) -> None:
    result = cli(served, "get", "isvc", ISVC, "-o", "wide")

    header, row = result.stdout.splitlines()
    assert header.split()[-6:] == ["ACTIVE", "TARGET", "TRANSITION", "MODEL", "RUNTIME", "INSTANCES"]
    assert re.search(r" Loaded +UpToDate ", row), row
    assert re.search(rf"{ISVC}__isvc-[0-9a-f]{{10}} +mlserver-1\.x +mlserver-1\.x-[0-9a-f]{{8}}$", row), row


def test_get_yaml_and_json_return_the_object_with_its_status(served: Served) -> None:
    as_yaml = yaml.safe_load(cli(served, "get", "isvc", ISVC, "-o", "yaml").stdout)
    as_json = json.loads(cli(served, "get", "inferenceservices", "-o", "json").stdout)

    assert as_yaml["apiVersion"] == "serving.kserve.io/v1beta1"
    assert as_yaml["metadata"]["namespace"] == "modelmesh-serving"
    assert as_yaml["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    assert as_yaml["status"]["modelStatus"] == {"copies": {"failedCopies": 0, "totalCopies": 1},
                                                "states": {"activeModelState": "Loaded", "targetModelState": ""},
                                                "transitionStatus": "UpToDate"}
    assert as_json["kind"] == "List"
    assert [item["metadata"]["name"] for item in as_json["items"]] == [ISVC]


def test_get_runtimes(served: Served) -> None:
    cluster = cli(served, "get", "clusterservingruntimes")
    namespaced = cli(served, "get", "servingruntimes")

    assert cluster.stdout.splitlines()[0].split() == ["NAME", "DISABLED", "MODELTYPE", "CONTAINERS", "AGE"]
    assert cluster.stdout.splitlines()[1].split()[:3] == ["mlserver-1.x", "sklearn", "mlserver"]
    assert (namespaced.returncode, namespaced.stdout) == (0, "")
    assert namespaced.stderr == "No resources found in modelmesh-serving namespace.\n"


def test_describe_shows_status_and_where_the_model_is(served: Served) -> None:
    result = cli(served, "describe", "isvc", ISVC)

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^Name: +{ISVC}$", out, re.MULTILINE)
    assert re.search(r"^      Active Model State: +Loaded$", out, re.MULTILINE)
    assert re.search(rf"^  Active Model:  {ISVC}__isvc-[0-9a-f]{{10}}$", out, re.MULTILINE)
    assert re.search(r"^    State:  Loaded, \d+ bytes \(\d+\.\dKiB\)$", out, re.MULTILINE)
    assert re.search(r"^    mlserver-1\.x-[0-9a-f]{8} +mlserver-1\.x +Loaded +\d+\.\dKiB$", out, re.MULTILINE)
    assert "  Target Model:  <none>" in out


def test_describe_shows_why_a_model_failed_to_load(served: Served, tmp_path: Path) -> None:
    manifest = tmp_path / "broken.yaml"
    manifest.write_text((ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text()
                        .replace(ISVC, "broken").replace("mnist-svm.joblib", "no-such-file.joblib"))
    cli(served, "apply", "-f", str(manifest))
    wait_until(served, lambda: isvc_json(served, "broken")["status"]["modelStatus"]["states"]["activeModelState"]
               == "FailedToLoad")

    listed = cli(served, "get", "isvc", "broken", "-o", "wide")
    described = cli(served, "describe", "isvc", "broken")
    cli(served, "delete", "-f", str(manifest))

    assert re.match(r"broken +(\S+ +)?False +\S+ +FailedToLoad +UpToDate ", listed.stdout.splitlines()[1]), listed
    out = described.stdout
    assert re.search(r"^    Last Failure Info:$", out, re.MULTILINE), out
    assert re.search(r"^      Reason: +ModelLoadFailed$", out, re.MULTILINE), out
    assert re.search(r"^      Message: +.*no objects found for path 'sklearn/no-such-file\.joblib'", out, re.MULTILINE)
    assert re.search(r"^      Model Revision Name: +broken__isvc-[0-9a-f]{10}$", out, re.MULTILINE), out
    assert re.search(r"^    Type: +Ready$", out, re.MULTILINE) and re.search(r"^    Status: +False$", out, re.MULTILINE)
    assert re.search(r"^  Active Model: +broken__isvc-[0-9a-f]{10}$", out, re.MULTILINE), out
    assert re.search(r"^    State:  FailedToLoad$", out, re.MULTILINE), out


def test_status_shows_instances_and_capacity(served: Served) -> None:
    result = cli(served, "status")

    first, header, row = result.stdout.splitlines()
    assert first.startswith(f"modelmesh-emulator 0.1.0  gRPC grpc://127.0.0.1:{served.grpc_port}")
    assert header.split() == ["RUNTIME", "NAMESPACE", "INSTANCE", "STATE", "UPTIME", "MODELS", "USED", "CAPACITY"]
    assert re.fullmatch(r"mlserver-1\.x +\(cluster\) +mlserver-1\.x-[0-9a-f]{8} +Running +\S+ +1 +\S+iB +\S+iB",
                        row), row


def test_logs_prints_the_runtime_log(served: Served) -> None:
    result = cli(served, "logs", "mlserver-1.x")

    assert result.returncode == 0
    assert f"Loaded model '{ISVC}__isvc-" in result.stdout


def test_infer_sends_v2_json_through_the_rest_router(served: Served) -> None:
    result = cli(served, "infer", ISVC, "--json", str(REQUEST))

    reply = json.loads(result.stdout)
    assert reply["model_name"].startswith(f"{ISVC}__isvc-")
    assert reply["outputs"][0]["data"] == [8]


def test_apply_from_stdin_then_delete_by_name(served: Served) -> None:
    manifest = (ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text().replace(ISVC, "from-stdin")

    created = cli(served, "apply", "-f", "-", stdin=manifest)
    again = cli(served, "apply", "-f", "-", stdin=manifest)
    deleted = cli(served, "delete", "isvc", "from-stdin")
    gone = cli(served, "get", "isvc", "from-stdin")

    assert created.stdout == "inferenceservice.serving.kserve.io/from-stdin created\n"
    assert again.stdout == "inferenceservice.serving.kserve.io/from-stdin unchanged\n"
    assert deleted.stdout == 'inferenceservice.serving.kserve.io "from-stdin" deleted\n'
    assert (gone.returncode, gone.stderr) == (1, 'error: inferenceservices.serving.kserve.io "from-stdin" not '
                                                 "found\n")


def test_apply_and_delete_by_file(served: Served, tmp_path: Path) -> None:
    manifest = tmp_path / "one.yaml"
    manifest.write_text((ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text().replace(ISVC, "by-file"))

    applied = cli(served, "apply", "-f", str(tmp_path))
    deleted = cli(served, "delete", "-f", str(manifest))
    again = cli(served, "delete", "-f", str(manifest))

    assert applied.stdout == "inferenceservice.serving.kserve.io/by-file created\n"
    assert deleted.stdout == 'inferenceservice.serving.kserve.io "by-file" deleted\n'
    assert (again.returncode, again.stderr) == (1, 'error: inferenceservices.serving.kserve.io "by-file" not found\n')


def test_storage_config_secret_values_are_never_printed(served: Served) -> None:
    secret_key = "cli-secret-0123456789abcdef"
    entry = json.dumps({"type": "s3", "access_key_id": "k", "secret_access_key": secret_key, "bucket": "b"})
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storage-config"},
                               "stringData": {"team-s3": entry}})

    applied = cli(served, "apply", "-n", "team", "-f", "-", stdin=manifest)
    table = cli(served, "get", "secrets", "-n", "team")
    as_yaml = cli(served, "get", "secret", "storage-config", "-n", "team", "-o", "yaml")
    described = cli(served, "describe", "secret", "storage-config", "-n", "team")
    reapplied = cli(served, "apply", "-n", "team", "-f", "-", stdin=as_yaml.stdout)
    cli(served, "delete", "secret", "storage-config", "-n", "team")

    assert applied.stdout == "secret/storage-config created\n"
    assert table.stdout.splitlines()[1].split()[:3] == ["storage-config", "Opaque", "1"]
    assert yaml.safe_load(as_yaml.stdout)["data"] == {"team-s3": "PHJlZGFjdGVkPg=="}
    assert reapplied.returncode == 1
    assert "'<redacted>' is what the API shows instead of secret values" in reapplied.stderr
    for result in (applied, table, as_yaml, described, reapplied):
        assert secret_key not in result.stdout + result.stderr
    assert not any(secret_key in line for line in served.lines)


@pytest.mark.parametrize(("args", "stdin", "stderr"), [
    (("apply", "-f", "-"), "kind: InferenceService\nmetadata: {name: x\n",
     "error: STDIN, document 0: invalid YAML at line 3, column 1: while parsing a flow mapping, expected ',' or "
     "'}', but got '<stream end>'\n"),
    (("apply", "-f", "-"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
     "error: STDIN, document 0: field kind: unsupported kind ConfigMap (supported: ClusterServingRuntime, "
     "InferenceService, Predictor, Secret, ServingRuntime)\n"),
    (("apply", "-f", "missing.yaml"), None, 'error: the path "missing.yaml" does not exist\n'),
    (("get", "isvc", "nope"), None, NOT_FOUND),
    (("describe", "isvc", "nope"), None, NOT_FOUND),
    (("delete", "isvc", "nope"), None, NOT_FOUND),
    (("get", "widgets"), None, 'error: the server doesn\'t have a resource type "widgets"\n'),
    (("logs", "nope"), None, 'error: servingruntimes.serving.kserve.io "nope" not found\n'),
    (("infer", "nope", "--json", str(REQUEST)), None, "error: vmodel not found: nope\n"),
])
def test_bad_input_exits_1_with_one_line_and_the_model_keeps_serving(
        served: Served, args: tuple[str, ...], stdin: str | None, stderr: str) -> None:
    before = infer(served)

    result = cli(served, *args, stdin=stdin)

    assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr)
    assert infer(served) == before


@pytest.mark.parametrize("args", [("get",), ("delete",), ("delete", "isvc"), ("get", "isvc", "-o", "table")])
def test_usage_errors_exit_2(served: Served, args: tuple[str, ...]) -> None:
    result = cli(served, *args)

    assert result.returncode == 2
    assert "usage: modelmesh-emulator" in result.stderr or "See 'modelmesh-emulator" in result.stderr


def test_a_bad_edit_of_a_watched_file_is_reported_and_changes_nothing(served: Served, watched: Path) -> None:
    path = watched / "sklearn-mnist-svm.yaml"
    good = path.read_text()
    before, seen = infer(served), len(served.lines)

    path.write_text(good.replace("name: sklearn", "name: [sklearn]"))
    error = served.wait_for(lambda line: "ERROR" in line, after=seen)
    still = infer(served)
    path.write_text(good)
    served.wait_for(lambda line: f"{path} applied" in line, after=seen)

    assert error.endswith(f'{path}, document 0: InferenceService "{ISVC}": field spec.predictor.model.modelFormat.'
                          "name: Input should be a valid string; the objects it defined are left as they were")
    assert still == before


def test_editing_a_watched_file_moves_the_model_to_a_new_concrete_id(served: Served, watched: Path) -> None:
    path = watched / "sklearn-mnist-svm.yaml"
    old, seen = infer(served), len(served.lines)

    path.write_text(path.read_text().replace("name: sklearn\n", "name: sklearn\n      runtime: mlserver-1.x\n"))
    answers = [infer(served)]
    deadline = time.monotonic() + 120
    while answers[-1] == old and time.monotonic() < deadline:
        answers.append(infer(served))

    reload_line = served.wait_for(lambda line: f"{path} applied:" in line, after=seen)
    new = answers[-1]
    assert reload_line.endswith(f"{path} applied: inferenceservice.serving.kserve.io/{ISVC} configured")
    assert new != old and new.startswith(f"{ISVC}__isvc-")
    assert set(answers) <= {old, new}, "every request during the transition was answered, by the old or new model"
    assert infer(served) == new
    assert re.search(r" True +\S+ +Loaded +UpToDate ", cli(served, "get", "isvc", ISVC, "-o", "wide").stdout)


def test_adding_and_removing_a_watched_file_creates_and_deletes(served: Served, watched: Path) -> None:
    path = watched / "extra.yaml"
    seen = len(served.lines)

    path.write_text((ROOT / "sample_models" / "sklearn-mnist-svm.yaml").read_text().replace(ISVC, "extra"))
    served.wait_for(lambda line: f"{path} applied: inferenceservice.serving.kserve.io/extra created" in line,
                    after=seen)
    listed = cli(served, "get", "isvc", "extra")
    path.unlink()
    served.wait_for(lambda line: f'{path} removed: inferenceservice.serving.kserve.io "extra" deleted' in line,
                    after=seen)
    gone = cli(served, "get", "isvc", "extra")

    assert listed.returncode == 0
    assert gone.returncode == 1
