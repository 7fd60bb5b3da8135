"""A `modelmesh-emulator serve` subprocess serving the sklearn sample through a real MLServer, for the tests of
the routers' limits and error handling: its own process, so that its RSS and its whole log can be checked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx

from emulator.launchers.ports import free_port
from tests.conftest import ROOT
from tests.control.test_cli_e2e import BIN, Served
from tests.v2_client import grpc_infer, grpc_request

__all__ = ["RUNTIME_PREFIX", "SKLEARN", "RouterProcess", "serve_router"]

SKLEARN = "example-sklearn-mnist-svm"
# what a runtime's own error looks like after ModelMesh's pass-through: "<method>: <CODE>: <runtime message>"
RUNTIME_PREFIX = "inference.GRPCInferenceService/ModelInfer: "


class RouterProcess:
    def __init__(self, served: Served, metrics_port: int):
        self.served, self.metrics_port = served, metrics_port
        self.grpc_address = f"127.0.0.1:{served.grpc_port}"
        self.rest_url = f"http://127.0.0.1:{served.rest_port}"

    def rss_bytes(self) -> int:
        """Resident memory of the emulator process itself (runtimes are separate processes)."""
        for line in Path(f"/proc/{self.served.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")

    def log(self) -> str:
        return "\n".join(self.served.lines)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30).text

    def assert_serving(self) -> None:
        """The sample model still answers on both transports."""
        assert grpc_infer(self.grpc_address, grpc_request(SKLEARN)).model_name.startswith(f"{SKLEARN}__isvc-")
        body = (ROOT / "sample_models" / "requests" / f"{SKLEARN}.json").read_bytes()
        reply = httpx.post(f"{self.rest_url}/v2/models/{SKLEARN}/infer", content=body, timeout=60)
        assert reply.status_code == 200, reply.text


@contextmanager
def serve_router(cache_dir: Path, s3_root: Path) -> Iterator[RouterProcess]:
    """`serve` with the mlserver-1.x runtime and the sklearn sample on free ports, until its model answers."""
    grpc_port, rest_port, api_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    kubeconfig = cache_dir.with_name(f"{cache_dir.name}-kubeconfig")
    command = [str(BIN / "modelmesh-emulator"), "serve", "runtimes/mlserver-1.x.yaml",
               "sample_models/sklearn-mnist-svm.yaml", "--grpc-port", str(grpc_port), "--rest-port",
               str(rest_port), "--api-port", str(api_port), "--cache-dir", str(cache_dir), "--launcher",
               "process", "--local-s3-root", str(s3_root), "--no-watch", "--kubeconfig", str(kubeconfig)]
    env = os.environ | {"MMEMU_METRICS_PORT": str(metrics_port)}
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    served = Served(process, grpc_port, rest_port, api_port, cache_dir, kubeconfig)
    try:
        served.wait_for(lambda line: line.startswith("serving gRPC"))
        router = RouterProcess(served, metrics_port)
        try:
            grpc_infer(router.grpc_address, grpc_request(SKLEARN))  # waits for the load
        except grpc.RpcError as exc:
            raise AssertionError(f"sample model not served: {exc}\n{router.log()}") from None
        yield router
    finally:
        served.stop()
