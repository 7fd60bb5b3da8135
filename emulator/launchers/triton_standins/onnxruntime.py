"""Stand-in for Triton's `onnxruntime` backend: ONNX models run by the `onnxruntime` package (CPU) in Triton's
Python backend. Installed as `<backend directory>/onnxruntime/model.py` beside standin_model.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnxruntime
from standin_model import StandInModel, stub_model_path

__all__ = ["TritonPythonModel"]

_DEFAULT_MAX_BATCH_SIZE = 4  # tritonserver's --backend-config=default-max-batch-size
_DATA_TYPES = {
    "tensor(float)": "TYPE_FP32", "tensor(double)": "TYPE_FP64", "tensor(float16)": "TYPE_FP16",
    "tensor(int8)": "TYPE_INT8", "tensor(int16)": "TYPE_INT16", "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64", "tensor(uint8)": "TYPE_UINT8", "tensor(uint16)": "TYPE_UINT16",
    "tensor(uint32)": "TYPE_UINT32", "tensor(uint64)": "TYPE_UINT64", "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one CPU thread per model instance: many models share the host
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _dynamic_batch(shape: list[Any]) -> bool:
    return bool(shape) and not (isinstance(shape[0], int) and shape[0] >= 0)


def _dims(shape: list[Any]) -> list[int]:
    return [dim if isinstance(dim, int) and dim >= 0 else -1 for dim in shape]


class TritonPythonModel(StandInModel):
    BACKEND = "onnxruntime"
    LIBRARY = f"onnxruntime {onnxruntime.__version__}"

    @staticmethod
    def auto_complete_config(auto_complete_model_config: Any) -> Any:
        """Inputs and outputs the configuration lacks, from the model, as Triton's ONNX Runtime backend does:
        a model whose every tensor has a dynamic first dimension batches (max_batch_size 4) unless configured."""
        config = auto_complete_model_config.as_dict()
        path = stub_model_path()
        if not path.is_file():
            return auto_complete_model_config  # Triton reports the missing file when the model loads
        session = _session(path)
        tensors = [*session.get_inputs(), *session.get_outputs()]
        max_batch_size = config.get("max_batch_size", 0)
        batching = max_batch_size > 0
        if (not batching and not config.get("input") and not config.get("output") and tensors
                and all(_dynamic_batch(tensor.shape) for tensor in tensors)):
            auto_complete_model_config.set_max_batch_size(_DEFAULT_MAX_BATCH_SIZE)
            auto_complete_model_config.set_dynamic_batching()
            batching = True
        configured = {tensor["name"] for tensor in [*config.get("input", []), *config.get("output", [])]}
        for tensor, add in [*((t, auto_complete_model_config.add_input) for t in session.get_inputs()),
                            *((t, auto_complete_model_config.add_output) for t in session.get_outputs())]:
            if tensor.name in configured:
                continue
            dims = _dims(tensor.shape)
            add({"name": tensor.name, "data_type": _DATA_TYPES.get(tensor.type, "TYPE_INVALID"),
                 "dims": dims[1:] if batching else dims})
        return auto_complete_model_config

    def load(self, path: Path, config: dict[str, Any]) -> None:
        self.session = _session(path)
        self.output_names = [name for name, _ in self.outputs]

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(self.output_names, inputs)
