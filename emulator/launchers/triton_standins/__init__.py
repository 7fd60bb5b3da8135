"""The emulator's stand-ins for Triton backends that no Triton build outside NVIDIA's images has: Python-based
backends (`<backend directory>/<name>/model.py`, run by Triton's own Python backend) that execute ONNX,
TorchScript, XGBoost and LightGBM models with the packages of the Triton environment. Triton itself still reads
each model's `config.pbtxt`, checks requests against it and answers the KServe V2 API; see docs/runtimes.md.

The modules beside this one are not imported by the emulator: `install_stand_ins` copies them into a backend
directory, and docker/triton.Dockerfile does the same in the Triton image.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["STAND_INS", "install_stand_ins"]

STAND_INS = {
    "onnxruntime": "onnxruntime (ONNX models)",
    "pytorch": "torch (TorchScript models)",
    "fil": "xgboost and lightgbm (FIL models)",
}
"""Triton backend name → the library its stand-in runs."""

_HERE = Path(__file__).resolve().parent
SHARED_MODULE = "standin_model.py"


def install_stand_ins(backends_dir: Path, real_backends: set[str]) -> list[str]:
    """`<backends_dir>/<name>/model.py` for each stand-in whose real backend is not in `real_backends`;
    returns the names installed."""
    installed = []
    for name in STAND_INS:
        if name in real_backends:
            continue
        target = backends_dir / name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_HERE / f"{name}.py", target / "model.py")
        shutil.copyfile(_HERE / SHARED_MODULE, target / SHARED_MODULE)
        installed.append(name)
    return installed
