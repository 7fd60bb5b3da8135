"""What the emulator's stand-in Triton backends share: they run inside Triton's Python backend (a Python-based
backend: `<backend directory>/<name>/model.py`), in the interpreter of the Triton environment (`.venv-triton`,
or the Triton image), never inside the emulator.

Triton itself reads the model's `config.pbtxt` (completed here from the model file when it lacks inputs or
outputs, as the real backend's auto-complete does), checks request shapes and datatypes against it, and answers
ModelMetadata and ModelConfig; a stand-in only turns the inputs into the outputs with the library named below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

__all__ = ["StandInModel", "stub_model_path"]


def stub_model_path() -> Path:
    """The model file Triton passes its Python backend stub (argv[1]: `<model dir>/<version>/<default file>`);
    `auto_complete_config` is given nothing else to find the model by."""
    with open("/proc/self/cmdline", "rb") as cmdline:
        return Path(cmdline.read().split(b"\0")[1].decode())


class StandInModel:
    """One model instance of a stand-in backend: subclasses name the backend and the library, load the model file
    and run it."""

    BACKEND = ""
    LIBRARY = ""

    def load(self, path: Path, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The outputs in the order of the configuration's `output` list."""
        raise NotImplementedError

    @classmethod
    def model_file(cls, version_dir: Path, config: dict[str, Any]) -> Path:
        return version_dir / config["default_model_filename"]

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.outputs = [(tensor["name"], pb_utils.triton_string_to_numpy(tensor["data_type"]))
                        for tensor in config["output"]]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        path = self.model_file(version_dir, config)
        if not path.exists():
            raise pb_utils.TritonModelException(f"model file {path.name!r} not found in {version_dir}")
        self.load(path, config)
        pb_utils.Logger.log_info(
            f"{args['model_name']}: backend {self.BACKEND!r} is the modelmesh-emulator's stand-in (Triton's Python "
            f"backend running {self.LIBRARY}), not Triton's own {self.BACKEND} backend; model file {path.name}")

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._answer(request) for request in requests]

    def _answer(self, request: Any) -> Any:
        inputs = {}
        for name in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is not None:
                inputs[name] = tensor.as_numpy()
        try:
            results = self.run(inputs)
        except Exception as exc:  # the library's own message, as the real backend reports its runtime's errors
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(
                f"{self.BACKEND} stand-in ({self.LIBRARY}): {type(exc).__name__}: {exc}"))
        tensors = [pb_utils.Tensor(name, np.ascontiguousarray(np.asarray(result).astype(dtype, copy=False)))
                   for (name, dtype), result in zip(self.outputs, results, strict=True)]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def finalize(self) -> None:
        pass

