"""Where a runnable Triton is: the `tritonserver` binary and Python backend shipped by PyPI's `nvidia-pytriton`.

The wheel holds `pytriton/tritonserver/{bin/tritonserver, backends/python, python_backend_stubs/<3.x>/}` and the
shared libraries in `nvidia_pytriton.libs/`. The Python backend embeds the interpreter found first on PATH, with
its packages: that environment needs NumPy < 2 (the 0.7.0 backend stub is built against NumPy 1.x and returns
empty output tensors under NumPy 2). So Triton gets its own environment, as it has its own image upstream:
`make triton` creates `.venv-triton` beside the emulator's `.venv` with `nvidia-pytriton` and `numpy<2`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import RuntimeStartError
from .triton_standins import STAND_INS, install_stand_ins

__all__ = ["TRITON_ENV_DIR", "TritonDist", "default_triton_envs", "find_triton", "prepare_triton_wrapper"]

log = logging.getLogger(__name__)

TRITON_ENV_DIR = ".venv-triton"
_PYTHON_BACKEND_LIBRARY = "libtriton_python.so"
_PROBE = (
    "import json, sys, sysconfig\n"
    "from importlib import metadata\n"
    "try:\n    numpy = metadata.version('numpy')\nexcept metadata.PackageNotFoundError:\n    numpy = None\n"
    "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'libdir': sysconfig.get_config_var('LIBDIR'),"
    " 'numpy': numpy}))\n"
)


@dataclass(frozen=True)
class TritonDist:
    server: Path
    libs: Path
    python_backend: Path
    stub: Path
    python: Path
    """The interpreter the Python backend embeds (its environment's packages are the models')."""
    python_libdir: str | None


def default_triton_envs() -> list[Path]:
    """Where Triton is looked for without a setting: `.venv-triton` beside this environment, then this one."""
    prefix = Path(sys.prefix)
    return [prefix.parent / TRITON_ENV_DIR, prefix]


def find_triton(env: Path | None, *, runtime_name: str) -> TritonDist:
    candidates = [env] if env is not None else default_triton_envs()
    for prefix in candidates:
        package = _pytriton_package(prefix)
        if package is not None:
            return _dist(prefix.resolve(), package, runtime_name)
    where = ", ".join(str(c) for c in candidates)
    raise RuntimeStartError(
        f"ServingRuntime {runtime_name!r}: no Triton Inference Server found (looked for the nvidia-pytriton package "
        f"in {where}); run `make triton` (a {TRITON_ENV_DIR} beside the emulator's environment with nvidia-pytriton "
        "and numpy<2), or use the docker launcher"
    )


def prepare_triton_wrapper(dist: TritonDist, work_dir: Path, extra_args: list[str]) -> Path:
    """A `bin/tritonserver` that runs the real one with `extra_args` appended, and the backends directory it
    names (`--backend-directory`: the Python backend and the stand-ins of triton_standins); returns the `bin`
    directory to put first on PATH."""
    backends = work_dir / "tritonserver" / "backends"
    python_backend = backends / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    links = {entry.name: entry for entry in dist.python_backend.iterdir() if entry.is_file()}
    links["triton_python_backend_stub"] = dist.stub
    for name, target in links.items():
        (python_backend / name).unlink(missing_ok=True)
        if name == _PYTHON_BACKEND_LIBRARY:  # a copy: Triton refuses a Python-based backend whose library
            shutil.copyfile(target, python_backend / name)  # resolves outside the backend directory
        else:
            (python_backend / name).symlink_to(target)
    real_backends = {entry.name for entry in dist.python_backend.parent.iterdir()}
    stand_ins = install_stand_ins(backends, real_backends)
    if stand_ins:
        log.warning("Triton backends %s are the emulator's stand-ins (Triton's Python backend running %s), not "
                    "Triton's own; see docs/runtimes.md", ", ".join(stand_ins),
                    "; ".join(STAND_INS[name] for name in stand_ins))
    bin_dir = work_dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    args = [f"--backend-directory={python_backend.parent}", *extra_args]
    script = bin_dir / "tritonserver"
    script.write_text(f'#!/bin/sh\nexec {_quote(dist.server)} "$@" {" ".join(_quote(a) for a in args)}\n')
    script.chmod(0o755)
    return bin_dir


def _quote(value: object) -> str:
    return "'" + str(value).replace("'", "'\\''") + "'"


def _pytriton_package(prefix: Path) -> Path | None:
    for site in sorted(prefix.glob("lib/python3*/site-packages")):
        if (site / "pytriton" / "tritonserver" / "bin" / "tritonserver").is_file():
            return site / "pytriton"
    return None


@functools.cache
def _dist(prefix: Path, package: Path, runtime_name: str) -> TritonDist:
    python = prefix / "bin" / "python3"
    try:
        probe = json.loads(subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, check=True,
                                          timeout=60, env={**os.environ, "PYTHONNOUSERSITE": "1"}).stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise RuntimeStartError(f"ServingRuntime {runtime_name!r}: cannot run {python} (the Triton Python "
                                f"backend's interpreter): {exc}") from None
    numpy = probe["numpy"]
    if numpy is None or int(numpy.split(".")[0]) >= 2:
        found = f"numpy {numpy}" if numpy else "no numpy"
        raise RuntimeStartError(
            f"ServingRuntime {runtime_name!r}: Triton's Python backend (nvidia-pytriton) needs numpy<2 in {prefix}, "
            f"which has {found}; run `make triton` (a separate .venv-triton) or `pip install 'numpy<2'` there"
        )
    tritonserver = package / "tritonserver"
    stub = tritonserver / "python_backend_stubs" / probe["version"] / "triton_python_backend_stub"
    if not stub.is_file():
        raise RuntimeStartError(f"ServingRuntime {runtime_name!r}: nvidia-pytriton has no Python backend stub for "
                                f"Python {probe['version']} ({stub})")
    return TritonDist(
        server=tritonserver / "bin" / "tritonserver", libs=package.parent / "nvidia_pytriton.libs",
        python_backend=tritonserver / "backends" / "python", stub=stub, python=python,
        python_libdir=probe["libdir"],
    )
