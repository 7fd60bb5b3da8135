"""Stand-in for Triton's `pytorch` (libtorch) backend: TorchScript models run by the `torch` package (CPU) in
Triton's Python backend. Installed as `<backend directory>/pytorch/model.py` beside standin_model.py.

As Triton's libtorch backend: the model file is `model.pt` (or `default_model_filename`), inputs are passed to
`forward` positionally in the order of the configuration's `input` list (names `INPUT__0`, `INPUT__1`, … are
sorted by their index), and a tuple or list result gives the outputs in the order of `output`.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
from standin_model import StandInModel

__all__ = ["TritonPythonModel"]

_INDEXED = re.compile(r".*__(\d+)$")


def _order(names: list[str]) -> list[str]:
    if all(_INDEXED.match(name) for name in names):
        return sorted(names, key=lambda name: int(_INDEXED.match(name).group(1)))  # type: ignore[union-attr]
    return names


class TritonPythonModel(StandInModel):
    BACKEND = "pytorch"
    LIBRARY = f"torch {torch.__version__} (TorchScript)"

    def load(self, path: Path, config: dict[str, Any]) -> None:
        torch.set_num_threads(1)  # one CPU thread per model instance: many models share the host
        self.module = torch.jit.load(str(path), map_location="cpu")
        self.module.eval()
        self.input_order = _order(self.inputs)

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            result = self.module(*(torch.from_numpy(np.array(inputs[name])) for name in self.input_order))
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        return [tensor.detach().cpu().numpy() for tensor in results]
