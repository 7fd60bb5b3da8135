"""The README's quickstart as a user runs it: `modelmesh-emulator serve`, then grpcurl and curl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.launchers.ports import free_port

from .conftest import ROOT
from .v2_client import expected_outputs

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


class Served:
    def __init__(self, process: subprocess.Popen[str], grpc_port: int, rest_port: int, cache_dir: Path):
        self.process, self.grpc_port, self.rest_port, self.cache_dir = process, grpc_port, rest_port, cache_dir


@pytest.fixture(scope="module")
def cli_served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    grpc_port, rest_port = free_port(), free_port()
    cache_dir = tmp_path_factory.mktemp("cli-cache")
    process = subprocess.Popen(
        [str(BIN / "modelmesh-emulator"), "serve", "runtimes/", "sample_models/", "--grpc-port", str(grpc_port),
         "--rest-port", str(rest_port), "--cache-dir", str(cache_dir), "--local-s3-root", str(sample_s3_root)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 60
    seen = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if line.startswith("serving gRPC"):
            break
        if not line and process.poll() is not None:
            pytest.fail("emulator exited:\n" + "".join(seen))
    else:
        process.kill()
        pytest.fail("emulator did not start:\n" + "".join(seen))
    served = Served(process, grpc_port, rest_port, cache_dir)
    yield served
    if process.poll() is None:
        process.kill()
        process.wait()


def _run(command: str) -> str:
    result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": f"{BIN}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("isvc", ["example-sklearn-mnist-svm", "example-custom-mnist"])
def test_grpcurl_with_vmodel_header(cli_served: Served, isvc: str) -> None:
    out = _run(f"grpcurl -plaintext -H 'mm-vmodel-id: {isvc}' -d @ localhost:{cli_served.grpc_port} "
               f"inference.GRPCInferenceService/ModelInfer < sample_models/requests/{isvc}.grpc.json")

    reply = json.loads(out)
    assert reply["model_name"].startswith(f"{isvc}__isvc-")
    predict = next(o for o in reply["outputs"] if o["name"] == "predict")
    assert [int(v) for v in predict["contents"]["int64_contents"]] == expected_outputs(isvc)[0]["data"]


@pytest.mark.parametrize("isvc", ["example-sklearn-mnist-svm", "example-custom-mnist"])
def test_curl_rest_infer(cli_served: Served, isvc: str) -> None:
    out = _run(f"curl -s -X POST http://localhost:{cli_served.rest_port}/v2/models/{isvc}/infer "
               f"-d @sample_models/requests/{isvc}.json")

    reply = json.loads(out)
    assert reply["model_name"].startswith(f"{isvc}__isvc-")
    assert reply["outputs"][0]["data"] == expected_outputs(isvc)[0]["data"]


def test_grpcurl_lists_services_through_reflection(cli_served: Served) -> None:
    out = _run(f"grpcurl -plaintext localhost:{cli_served.grpc_port} list")

    assert "inference.GRPCInferenceService" in out.split()


def test_sigterm_stops_the_emulator_and_its_runtimes(cli_served: Served) -> None:
    cli_served.process.send_signal(signal.SIGTERM)
    code = cli_served.process.wait(timeout=60)

    leftovers = subprocess.run(["pgrep", "-f", str(cli_served.cache_dir)], capture_output=True, text=True)
    assert code == 0
    assert leftovers.stdout == ""
    assert not any(cli_served.cache_dir.iterdir()), "the run's working directory is removed"
