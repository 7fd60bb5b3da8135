"""Archive the TorchServe sample models into a local stand-in for ModelMesh's example S3 bucket.

``<out>/modelmesh-example-models/torchserve/<name>.mar``, made by `torch-model-archiver` as users make them for
ModelMesh's torchserve-0.x runtime (format `pytorch-mar`): ``doubler`` is a TorchScript model returning twice
its input (request `data`: a JSON list of numbers); ``broken`` raises while loading. Needs `torch` and
`torch-model-archiver` (`make torchserve`).

    python sample_models/torchserve_models.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUCKET = "modelmesh-example-models"
HANDLERS = {"doubler": "doubler_handler.py", "broken": "broken_handler.py"}


def _archiver() -> str:
    found = shutil.which("torch-model-archiver", path=str(Path(sys.executable).parent)) or shutil.which(
        "torch-model-archiver")
    if found is None:
        raise SystemExit("torch-model-archiver is not installed (pip install torch-model-archiver)")
    return found


def _torchscript_doubler(path: Path) -> None:
    import torch

    class Doubler(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.x, and what TorchServe 0.x loads
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(Doubler()).save(str(path))


def write(out: Path) -> dict[str, Path]:
    export = out / BUCKET / "torchserve"
    export.mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        serialized = Path(tmp) / "doubler.pt"
        _torchscript_doubler(serialized)
        for name, handler in HANDLERS.items():
            subprocess.run([_archiver(), "--model-name", name, "--version", "1.0", "--serialized-file",
                            str(serialized), "--handler", str(HERE / "torchserve" / handler), "--export-path",
                            str(export), "--force"], check=True)
            written[name] = export / f"{name}.mar"
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "bucket")
    for name, path in write(parser.parse_args().out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
