"""What every benchmark starts: a work directory, the trained sample bucket, the emulator as its own process,
and the address of the MLServer runtime instance behind it (the direct path).

The emulator runs as `modelmesh-emulator serve …` in a separate process, so the load generator never shares
its GIL. The direct path is the very runtime instance the emulator started: its gRPC and HTTP ports are read
from the instance's `runtime.log` (`<cache_dir>/run-*/<instance>/runtime.log`), where MLServer prints them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format
from mlserver.grpc import dataplane_pb2 as pb

from emulator.launchers.ports import free_port
from emulator.settings import Settings

__all__ = [
    "ROOT",
    "SVM",
    "DirectMLServer",
    "EmulatorProcess",
    "RuntimeEndpoints",
    "add_common_args",
    "cpu_seconds",
    "grpc_request",
    "isvc_yaml",
    "rest_body",
    "rss_bytes",
    "sample_bucket",
    "work_dir",
]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SVM = "example-sklearn-mnist-svm"
_GRPC_LINE = re.compile(r"gRPC server running on http://([\w.\-]+):(\d+)")
_HTTP_LINE = re.compile(r"HTTP server running on http://([\w.\-]+):(\d+)")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a short smoke run with tiny counts")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) after the run")


@contextlib.contextmanager
def work_dir(keep: bool = False, prefix: str = "mmemu-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"work directory kept: {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def sample_bucket(work: Path) -> Path:
    """A local S3 root holding the sample models: sample_models/bucket when trained, else trained into `work`."""
    trained = ROOT / "sample_models" / "bucket"
    if (trained / "modelmesh-example-models" / "sklearn" / "mnist-svm.joblib").is_file():
        return trained
    root = work / "s3"
    subprocess.run([sys.executable, str(ROOT / "sample_models" / "train.py"), "--out", str(root)],
                   check=True, capture_output=True, timeout=300)
    return root


def grpc_request(isvc: str, model_name: str | None = None) -> bytes:
    """The sample ModelInfer request for `isvc` (sample_models/requests/<isvc>.grpc.json), serialised."""
    doc = json.loads((ROOT / "sample_models" / "requests" / f"{isvc}.grpc.json").read_text())
    request = json_format.ParseDict(doc, pb.ModelInferRequest())
    if model_name is not None:
        request.model_name = model_name
    return request.SerializeToString()


def isvc_yaml(names: Sequence[str], *, path: str = "sklearn/mnist-svm.joblib", model_format: str = "sklearn",
              runtime: str | None = None) -> str:
    """InferenceServices in ModelMesh mode, one YAML document each, all reading `path` from `localMinIO`."""
    docs = []
    for name in names:
        runtime_line = f"\n      runtime: {runtime}" if runtime else ""
        docs.append(f"""apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    serving.kserve.io/deploymentMode: ModelMesh
spec:
  predictor:
    model:
      modelFormat:
        name: {model_format}{runtime_line}
      storage:
        key: localMinIO
        path: {path}
""")
    return "---\n".join(docs)


def rest_body(isvc: str) -> bytes:
    return (ROOT / "sample_models" / "requests" / f"{isvc}.json").read_bytes()


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (not its children), from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (its own threads, not its children)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes_under(path: Path) -> list[int]:
    """Processes whose command line names `path` (runtime instances of one emulator's cache dir)."""
    needle = str(path).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "cmdline").read_bytes() or needle in os.readlink(entry / "cwd").encode():
                    pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class RuntimeEndpoints:
    """One MLServer runtime instance the emulator started: the direct path."""

    instance: str
    grpc: str  # host:port of MLServer's gRPC server (data and management endpoint)
    http_host: str
    http_port: int
    log_path: Path

    def log_count(self, needle: str) -> int:
        with self.log_path.open(errors="replace") as log:
            return sum(needle in line for line in log)


class EmulatorProcess:
    """`modelmesh-emulator serve PATHS` in its own process group, on free ports, with its own cache dir."""

    def __init__(self, paths: Sequence[Path], work: Path, s3_root: Path, *, lazy: bool = False,
                 env: dict[str, str] | None = None, command: Sequence[str] | None = None,
                 extra_args: Sequence[str] = ()):
        self.grpc_port, self.rest_port = free_port(), free_port()
        self.cache_dir = work / f"cache-{self.grpc_port}"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work / f"emulator-{self.grpc_port}.log"
        base = list(command) if command else [str(BIN / "modelmesh-emulator")]
        self.argv = [*base, "serve", *map(str, paths), "--grpc-port", str(self.grpc_port),
                     "--rest-port", str(self.rest_port), "--cache-dir", str(self.cache_dir),
                     "--local-s3-root", str(s3_root), *(["--lazy"] if lazy else []), *extra_args]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MMEMU_")}
        # every other port the emulator may open (metrics, management API, …) on a free one; files not watched
        for name in Settings.model_fields:
            if name.endswith("_port") and name not in ("grpc_port", "rest_port"):
                self.env[f"MMEMU_{name.upper()}"] = str(free_port())
        self.env["MMEMU_WATCH"] = "false"
        self.env["MMEMU_LAUNCHER"] = "process"  # runtimes as local processes even when a Docker daemon answers
        if os.environ.get("BENCH_EVENT_LOOP"):
            self.env["MMEMU_EVENT_LOOP"] = os.environ["BENCH_EVENT_LOOP"]
            self.env["GRPC_ENABLE_FORK_SUPPORT"] = "false"
        self.env.update(env or {})
        self.metrics_port = int(self.env.get("MMEMU_METRICS_PORT", "0"))
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.spawned_at = time.perf_counter()
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def wait_serving(self, timeout: float = 180.0) -> float:
        """Seconds from spawn until the CLI printed `serving gRPC …` (after applying every manifest)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "serving gRPC on" in self.log_text():
                return time.perf_counter() - self.spawned_at
            self._check_alive()
            time.sleep(0.02)
        raise TimeoutError(f"emulator not serving after {timeout:g}s:\n{self.log_text()[-3000:]}")

    def start(self, timeout: float = 180.0) -> EmulatorProcess:
        self.spawn()
        self.wait_serving(timeout)
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"emulator exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")

    def runtimes(self) -> list[RuntimeEndpoints]:
        found = []
        for log_path in sorted(self.cache_dir.glob("run-*/*/runtime.log")):
            text = log_path.read_text(errors="replace")
            grpc_match, http_match = _GRPC_LINE.search(text), _HTTP_LINE.search(text)
            if grpc_match and http_match:
                found.append(RuntimeEndpoints(
                    instance=log_path.parent.name, grpc=f"{grpc_match[1]}:{grpc_match[2]}",
                    http_host=http_match[1], http_port=int(http_match[2]), log_path=log_path))
        return found

    def runtime(self, name_prefix: str, timeout: float = 120.0) -> RuntimeEndpoints:
        """The running instance of the ServingRuntime `name_prefix` (waits until MLServer logged its ports)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for endpoints in self.runtimes():
                if endpoints.instance.startswith(f"{name_prefix}-"):
                    return endpoints
            self._check_alive()
            time.sleep(0.05)
        raise TimeoutError(f"no running instance of runtime {name_prefix!r} after {timeout:g}s")

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        for pid in _processes_under(self.cache_dir):  # runtime instances an emulator failed to stop
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DirectMLServer:
    """`mlserver start` on its own (no emulator) serving one sklearn model: the direct path for startup figures.

    The model directory is laid out as the emulator's MLServer adapter lays it out (a model-settings.json naming
    mlserver_sklearn's SKLearnModel and the model file), with the runtime's environment of
    runtimes/mlserver-1.x.yaml except that the model loads at startup.
    """

    def __init__(self, work: Path, model_file: Path, name: str):
        self.name = name
        self.grpc_port, self.http_port = free_port(), free_port()
        root = work / f"direct-{self.grpc_port}"
        model_dir = root / name
        model_dir.mkdir(parents=True)
        (model_dir / "model-settings.json").write_text(json.dumps({
            "implementation": "mlserver_sklearn.SKLearnModel", "name": name,
            "parameters": {"uri": str(model_file)}}))
        self.root, self.log_path = root, work / f"direct-{self.grpc_port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSERVER_", "MMEMU_"))}
        self.env.update({"MLSERVER_GRPC_PORT": str(self.grpc_port), "MLSERVER_HTTP_PORT": str(self.http_port),
                         "MLSERVER_METRICS_PORT": str(free_port()), "MLSERVER_HOST": "127.0.0.1",
                         "MLSERVER_GRPC_MAX_MESSAGE_LENGTH": "-1", "MLSERVER_LOAD_MODELS_AT_STARTUP": "true"})
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.spawned_at = time.perf_counter()
            self.process = subprocess.Popen([str(BIN / "mlserver"), "start", str(self.root)], cwd=self.root,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # MLServer's worker processes share the group

    def __enter__(self) -> DirectMLServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
