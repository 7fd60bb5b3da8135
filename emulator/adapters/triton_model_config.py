"""Triton's `ModelConfig` message (config.pbtxt), from tritonclient's generated `model_config_pb2`.

Loaded by path under a private name: `import tritonclient.grpc` would also register Triton's `grpc_service.proto`,
whose `inference.*` messages clash in protobuf's default pool with MLServer's `dataplane.proto`, which the
emulator already uses for the same KServe V2 API (v2_protos.py; the wire format is the same).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["model_config_pb2"]

_PRIVATE_NAME = "emulator._triton_model_config_pb2"


def _load() -> ModuleType:
    loaded = sys.modules.get("tritonclient.grpc.model_config_pb2") or sys.modules.get(_PRIVATE_NAME)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("tritonclient")
    if package is None or not package.submodule_search_locations:
        raise ImportError("tritonclient is not installed: Triton's model config messages come from it")
    path = Path(next(iter(package.submodule_search_locations))) / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PRIVATE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PRIVATE_NAME]
        raise
    return module


if TYPE_CHECKING:
    from tritonclient.grpc import model_config_pb2
else:
    model_config_pb2 = _load()
