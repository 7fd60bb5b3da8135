"""Write the Triton sample models into a local stand-in for ModelMesh's example S3 bucket.

Each is a Triton model repository entry, as users store them for ModelMesh's triton-2.x runtime:
``<out>/modelmesh-example-models/triton/<name>/{config.pbtxt,1/model.py}`` (Python backend, which the
`tritonserver` of PyPI's nvidia-pytriton includes). ``add-sub`` adds and subtracts two FP32 vectors;
``broken`` raises while loading.

    python sample_models/triton_models.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUCKET = "modelmesh-example-models"
MODELS = {"add-sub": "add_sub_model.py", "broken": "broken_model.py"}
"""Storage path under `triton/` → the model.py it serves."""


def write(out: Path) -> dict[str, Path]:
    written = {}
    for name, source in MODELS.items():
        model_dir = out / BUCKET / "triton" / name
        (model_dir / "1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / "triton" / "config.pbtxt", model_dir / "config.pbtxt")
        shutil.copyfile(HERE / "triton" / source, model_dir / "1" / "model.py")
        written[name] = model_dir
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "bucket")
    for name, path in write(parser.parse_args().out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
