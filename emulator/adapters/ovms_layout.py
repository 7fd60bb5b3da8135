"""ModelMesh's OpenVINO Model Server layout and config file (model-mesh-ovms-adapter adaptmodellayout.go,
modelmanager.go).

`<models>/_ovms_models/<model id>/<version>/` links the pulled files: a file goes to version `1` under its own
name (an ONNX file as `model.onnx`); a directory to its largest numeric sub-directory as version, else as `1`.
OVMS has no load RPC: `<models>/model_config_list.json` lists every model the adapter wants loaded, and
`POST /v1/config/reload` makes OVMS read it again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from .common import format_name, largest_number_dir
from .triton_layout import LayoutError, Linker

__all__ = ["ONNX_FILE_NAME", "model_config_list", "write_ovms_layout"]

ONNX_FILE_NAME = "model.onnx"


def write_ovms_layout(target: Path, model_type: str, model_path: Path, link: Linker) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if not model_path.exists():
        raise LayoutError(f"Error calling stat on model file: {model_path}: no such file or directory")
    version = "1"
    if model_path.is_dir():
        numbered = largest_number_dir(model_path)
        if numbered is not None:
            model_path, version = model_path / numbered, numbered
    link_path = target / version
    if model_path.is_file():
        link_path = link_path / (ONNX_FILE_NAME if format_name(model_type) == "onnx" else model_path.name)
    link_path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(link(model_path), link_path)


def model_config_list(base_paths: Mapping[str, str]) -> str:
    """The `MODEL_CONFIG_FILE` contents: each model id with the directory OVMS loads it from."""
    entries = [{"config": {"name": model_id, "base_path": base_path}} for model_id, base_path in base_paths.items()]
    return json.dumps({"model_config_list": entries})
