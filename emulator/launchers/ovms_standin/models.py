"""The stand-in's models: the config file's `model_config_list` loaded with the `openvino` runtime, and each
model's version states in OVMS's words (`GET /v1/config`: `model_version_status`, AVAILABLE / END / LOADING
with an error)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import openvino

__all__ = ["LoadedModel", "ModelManager", "ServingError", "TensorSpec", "numpy_dtype"]

log = logging.getLogger(__name__)

_DATATYPES = {"f32": "FP32", "f64": "FP64", "f16": "FP16", "i8": "INT8", "i16": "INT16", "i32": "INT32",
              "i64": "INT64", "u8": "UINT8", "u16": "UINT16", "u32": "UINT32", "u64": "UINT64", "boolean": "BOOL"}
_MODEL_SUFFIXES = (".xml", ".onnx")


class ServingError(Exception):
    """An OVMS status: `code` a gRPC status name, `message` OVMS's text for it, `details` what it names."""

    def __init__(self, code: str, message: str, details: str = ""):
        super().__init__(f"{message} - {details}" if details else message)
        self.code = code


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]
    """-1 for a dynamic dimension."""

    @property
    def dtype(self) -> np.dtype[Any]:
        return numpy_dtype(self.datatype)


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """A KServe V2 datatype (FP32, INT64, BOOL, ...) as NumPy's."""
    if datatype == "BOOL":
        return np.dtype(np.bool_)
    return np.dtype(datatype.lower().replace("fp", "float"))


@dataclass
class LoadedModel:
    name: str
    version: int
    compiled: Any
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def infer(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self.lock:
            request = self.compiled.create_infer_request()
            results = request.infer(arrays)
        return {spec.name: np.asarray(results[index]) for index, spec in enumerate(self.outputs)}


def _spec(port: Any) -> TensorSpec:
    shape = tuple(dim.get_length() if dim.is_static else -1 for dim in port.get_partial_shape())
    return TensorSpec(port.get_any_name(), _DATATYPES.get(port.get_element_type().get_type_name(), "INVALID"),
                      shape)


def _model_file(version_dir: Path) -> Path:
    found = sorted(path for path in version_dir.iterdir() if path.suffix in _MODEL_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"no model file (*.xml with its .bin, or *.onnx) in {version_dir}")
    return found[0]


def _versions(base_path: Path) -> list[int]:
    return sorted(int(entry.name) for entry in base_path.iterdir() if entry.name.isdigit() and entry.is_dir())


class ModelManager:
    def __init__(self, config_path: Path):
        self.config_path = config_path
        self._core = openvino.Core()
        self._lock = threading.Lock()
        self._models: dict[str, LoadedModel] = {}
        self._status: dict[str, list[dict[str, Any]]] = {}
        self._base_paths: dict[str, str] = {}

    def get(self, name: str, version: int | None = None) -> LoadedModel:
        model = self._models.get(name)
        if model is None or (version not in (None, 0) and version != model.version):
            raise ServingError("NOT_FOUND", "Model with requested name and/or version is not found"
                               if model is not None else "Model with requested name is not found")
        return model

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {name: {"model_version_status": versions} for name, versions in self._status.items()}

    def reload(self) -> bool:
        """Read the config file again: load new or changed models, end removed ones. False if any failed."""
        with self._lock:
            wanted = {entry["config"]["name"]: entry["config"]["base_path"]
                      for entry in json.loads(self.config_path.read_text()).get("model_config_list", [])}
            for name in [name for name in self._base_paths if name not in wanted]:
                self._end(name)
            ok = True
            for name, base_path in wanted.items():
                if self._base_paths.get(name) == base_path and name in self._models:
                    continue
                ok = self._load(name, base_path) and ok
            return ok

    def _end(self, name: str) -> None:
        model = self._models.pop(name, None)
        self._base_paths.pop(name, None)
        version = str(model.version) if model else "1"
        self._status[name] = [_version_status(version, "END")]
        log.info("model %s version %s unloaded", name, version)

    def _load(self, name: str, base_path: str) -> bool:
        self._base_paths[name] = base_path
        version = "1"
        try:
            versions = _versions(Path(base_path))
            if not versions:
                raise FileNotFoundError(f"no version directory in {base_path}")
            version = str(versions[-1])
            path = _model_file(Path(base_path) / version)
            model = self._core.read_model(str(path))
            compiled = self._core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1})
        except Exception as exc:  # OpenVINO's own message, as OVMS logs it
            self._models.pop(name, None)
            self._status[name] = [_version_status(version, "LOADING", "UNKNOWN", f"{type(exc).__name__}: {exc}")]
            log.error("model %s version %s failed to load: %s", name, version, exc)
            return False
        self._models[name] = LoadedModel(name, int(version), compiled, [_spec(port) for port in compiled.inputs],
                                         [_spec(port) for port in compiled.outputs])
        self._status[name] = [_version_status(version, "AVAILABLE")]
        log.info("model %s version %s loaded from %s with openvino %s (OVMS stand-in)", name, version, path.name,
                 openvino.__version__)
        return True


def _version_status(version: str, state: str, code: str = "OK", message: str = "OK") -> dict[str, Any]:
    return {"version": version, "state": state, "status": {"error_code": code, "error_message": message}}
