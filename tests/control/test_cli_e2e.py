"""The README's quickstart as a user runs it: `modelmesh-emulator serve`, then grpcurl and curl.

`serve_process` (also used by test_cli_commands.py) runs `serve` as a subprocess on free ports and keeps
reading its output, so the tests can wait for log lines and the pipe never fills up.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.kube.kubeconfig import read_kubeconfig
from emulator.launchers.ports import free_port
from tests.conftest import ROOT
from tests.v2_client import expected_outputs

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


class Served:
    """A `modelmesh-emulator serve` subprocess and everything it printed so far."""

    def __init__(self, process: subprocess.Popen[str], grpc_port: int, rest_port: int, api_port: int,
                 cache_dir: Path, kubeconfig: Path):
        self.process, self.cache_dir, self.kubeconfig = process, cache_dir, kubeconfig
        self.grpc_port, self.rest_port, self.api_port = grpc_port, rest_port, api_port
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment for the client commands and kubectl: this emulator's kubeconfig."""
        return os.environ | {"MMEMU_SERVER": self.api_url, "MMEMU_KUBECONFIG": str(self.kubeconfig),
                             "KUBECONFIG": str(self.kubeconfig)}

    @property
    def verify(self) -> ssl.SSLContext:
        """Trusts the API's serving certificate (from the kubeconfig)."""
        return read_kubeconfig(self.kubeconfig).ssl_context()

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header with the token `serve` wrote into the kubeconfig."""
        return {"Authorization": f"Bearer {read_kubeconfig(self.kubeconfig).token}"}

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60.0, *, after: int = 0) -> str:
        """The first output line (from index `after`) matching `predicate`; fails with the output on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines[after:] if predicate(line)), None)
                if found is not None:
                    return found
                if time.monotonic() >= deadline or self.process.poll() is not None:
                    pytest.fail("expected output not seen; emulator output:\n" + "\n".join(self.lines))
                self._changed.wait(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve_process(paths: list[str], *, cwd: Path, cache_dir: Path, extra: tuple[str, ...] = ()) -> Served:
    """Start `modelmesh-emulator serve PATH…` on free ports (metrics too) and wait until it serves.

    Runtimes run as processes, whether or not a Docker daemon answers, so the tests take the same time anywhere.
    """
    grpc_port, rest_port, api_port = free_port(), free_port(), free_port()
    env = os.environ | {"MMEMU_METRICS_PORT": str(free_port())}
    kubeconfig = cache_dir.with_name(f"{cache_dir.name}-kubeconfig")
    command = [str(BIN / "modelmesh-emulator"), "serve", *paths, "--grpc-port", str(grpc_port), "--rest-port",
               str(rest_port), "--api-port", str(api_port), "--cache-dir", str(cache_dir), "--launcher", "process",
               "--kubeconfig", str(kubeconfig), *extra]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    served = Served(process, grpc_port, rest_port, api_port, cache_dir, kubeconfig)
    try:
        served.wait_for(lambda line: line.startswith("serving gRPC"))
    except BaseException:
        served.stop()
        raise
    return served


@pytest.fixture(scope="module")
def cli_served(tmp_path_factory: pytest.TempPathFactory, sample_s3_root: Path) -> Iterator[Served]:
    served = serve_process(["runtimes/", "sample_models/"], cwd=ROOT, cache_dir=tmp_path_factory.mktemp("cli-cache"),
                           extra=("--local-s3-root", str(sample_s3_root)))
    yield served
    served.stop()


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


def test_serve_prints_kubectl_lines_for_what_it_applied(cli_served: Served) -> None:
    serving = cli_served.wait_for(lambda line: line.startswith("serving gRPC"))
    startup = cli_served.lines[: cli_served.lines.index(serving)]

    assert [line for line in startup if " created" in line] == [
        "servingruntime.serving.kserve.io/custom-mnist-0.x created",
        "clusterservingruntime.serving.kserve.io/mlserver-1.x created",
        "inferenceservice.serving.kserve.io/example-linear created",
        "servingruntime.serving.kserve.io/mmesh-never-ready created",
        "servingruntime.serving.kserve.io/mmesh-example-0.x created",
        "inferenceservice.serving.kserve.io/example-custom-mnist-runtime created",
        "inferenceservice.serving.kserve.io/example-custom-mnist created",
        "inferenceservice.serving.kserve.io/example-sklearn-mnist-svm created",
    ]


def test_grpcurl_lists_services_through_reflection(cli_served: Served) -> None:
    out = _run(f"grpcurl -plaintext localhost:{cli_served.grpc_port} list")

    assert out.split() == ["grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                           "inference.GRPCInferenceService", "mmesh.ModelMesh"]


def test_grpcurl_describes_the_inference_service_through_reflection(cli_served: Served) -> None:
    out = _run(f"grpcurl -plaintext localhost:{cli_served.grpc_port} describe inference.GRPCInferenceService")

    assert out.startswith("inference.GRPCInferenceService is a service:\n")
    for method in ("ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"):
        assert f"rpc {method} ( .inference.{method}Request ) returns ( .inference.{method}Response );" in out


def test_grpcurl_health_check_answers_serving(cli_served: Served) -> None:
    out = _run(f"grpcurl -plaintext localhost:{cli_served.grpc_port} grpc.health.v1.Health/Check")

    assert json.loads(out) == {"status": "SERVING"}


def test_sigterm_stops_the_emulator_and_its_runtimes(cli_served: Served) -> None:
    cli_served.process.send_signal(signal.SIGTERM)
    code = cli_served.process.wait(timeout=60)

    leftovers = subprocess.run(["pgrep", "-f", str(cli_served.cache_dir)], capture_output=True, text=True)
    assert code == 0
    assert leftovers.stdout == ""
    assert not any(cli_served.cache_dir.iterdir()), "the run's working directory is removed"
