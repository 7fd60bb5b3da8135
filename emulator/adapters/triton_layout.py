"""ModelMesh's Triton model repository layout (model-mesh-triton-adapter adaptmodellayout.go and schema.go).

`<models>/_triton_models/<model id>/` is made from the pulled files:
* a file → `<id>/1/<name by model type, else the file's name>` (a symlink);
* a directory with `config.pbtxt` (Triton's native layout) → `config.pbtxt` copied without `name` (Triton then
  names the model after its directory, the concrete id) and with the schema's tensors if one is given; every
  other entry symlinked;
* any other directory → its largest numeric sub-directory (else the directory itself) as version (else `1`);
  a single file of a known model type is linked by its mapped name;
* with a schema, a generated `config.pbtxt` holding the type's backend and the schema's tensors.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from google.protobuf import text_format

from .common import format_name, largest_number_dir
from .triton_model_config import model_config_pb2

__all__ = ["BACKENDS", "DIR_NAMES", "FILE_NAMES", "LayoutError", "config_from_schema", "process_model_config",
           "write_triton_layout"]

FILE_NAMES = {"tensorflow": "model.graphdef", "tensorrt": "model.plan", "onnx": "model.onnx", "pytorch": "model.pt"}
DIR_NAMES = {"tensorflow": "model.savedmodel", "onnx": "model.onnx", "keras": "model.savedmodel"}
BACKENDS = {"tensorflow": "tensorflow", "tensorrt": "tensorrt", "onnx": "onnxruntime", "pytorch": "pytorch",
            "keras": "tensorflow"}
CONFIG_FILE = "config.pbtxt"
SCHEMA_FILE = "_schema.json"
# Upstream's table: BYTES is missing from it, so a BYTES tensor becomes TYPE_INVALID (STRING is TYPE_STRING).
_DATA_TYPES = {name: model_config_pb2.DataType.Value(f"TYPE_{name}") for name in (
    "INVALID", "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
    "FP64", "STRING")}

Linker = Callable[[Path], str]
"""Host path of a pulled file → the path a symlink must hold (as the runtime sees it)."""


class LayoutError(Exception):
    """The pulled files cannot be laid out for Triton."""


def write_triton_layout(target: Path, model_type: str, model_path: Path, schema_path: Path | None,
                        link: Linker) -> None:
    fmt = format_name(model_type)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if not model_path.exists():
        raise LayoutError(f"Error calling stat on model file: {model_path}: no such file or directory")
    if model_path.is_file() and fmt == "keras":
        raise LayoutError(f"Error while converting keras model {model_path} to tensorflow: the adapter's "
                          "/opt/scripts/tf_pb.py (TensorFlow) is not available in the emulator")
    if model_path.is_file():
        _from_path(model_path, "1", schema_path, fmt, target, link)
    elif (model_path / CONFIG_FILE).exists():
        _native_layout(model_path, schema_path, target, link)
    else:
        _from_directory(model_path, schema_path, fmt, target, link)


def _from_directory(model_path: Path, schema_path: Path | None, fmt: str, target: Path, link: Linker) -> None:
    version = largest_number_dir(model_path)
    if version is not None:
        model_path = model_path / version
        files = list(model_path.iterdir())
    else:
        version = "1"
        files = [entry for entry in model_path.iterdir() if entry.name != SCHEMA_FILE]
    if len(files) == 1 and (fmt in DIR_NAMES or fmt in FILE_NAMES):
        model_path = files[0]
    _from_path(model_path, version, schema_path, fmt, target, link)


def _from_path(model_path: Path, version: str, schema_path: Path | None, fmt: str, target: Path,
               link: Linker) -> None:
    if model_path.is_dir():
        relative = f"{version}/{DIR_NAMES[fmt]}" if fmt in DIR_NAMES else version
    else:
        relative = f"{version}/{FILE_NAMES.get(fmt, model_path.name)}"
    link_path = target / relative
    link_path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(link(model_path), link_path)
    if schema_path is not None:
        config = config_from_schema(schema_path)
        config.backend = BACKENDS.get(fmt, "")
        (target / CONFIG_FILE).write_text(text_format.MessageToString(config))


def _native_layout(source: Path, schema_path: Path | None, target: Path, link: Linker) -> None:
    for entry in source.iterdir():
        if entry.name == CONFIG_FILE:
            (target / CONFIG_FILE).write_text(process_model_config(entry.read_text(), schema_path))
        else:
            os.symlink(link(entry), target / entry.name)


def process_model_config(pbtxt: str, schema_path: Path | None) -> str:
    """`config.pbtxt` without `name`, with the schema's tensors (batch dimension stripped when batching)."""
    config = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(pbtxt, config)
    except text_format.ParseError:
        return pbtxt  # as upstream: hand Triton the original and let it report the problem
    config.ClearField("name")
    if schema_path is not None:
        schema = config_from_schema(schema_path)
        if config.max_batch_size > 0:
            tensors = [*schema.input, *schema.output]
            if not all(tensor.dims and tensor.dims[0] == -1 for tensor in tensors):
                raise LayoutError("Conflicting model configuration: If model has schema and config.pbtxt with "
                                  "max_batch_size > 0, then the first dimension of all inputs and outputs must "
                                  "have size -1.")
            for tensor in tensors:
                del tensor.dims[0]
        if schema.input:
            config.ClearField("input")
            config.input.extend(schema.input)
        if schema.output:
            config.ClearField("output")
            config.output.extend(schema.output)
    return text_format.MessageToString(config)


def config_from_schema(schema_path: Path) -> model_config_pb2.ModelConfig:
    """A schema file's inputs and outputs as Triton tensors (§5.8)."""
    try:
        schema = json.loads(schema_path.read_text())
    except (OSError, ValueError) as exc:
        raise LayoutError(f"Error trying to convert schema to config: Unable to parse model schema JSON: {exc}"
                          ) from None
    config = model_config_pb2.ModelConfig()
    for tensor in schema.get("inputs") or []:
        config.input.add(name=tensor["name"], data_type=_data_type(tensor), dims=tensor.get("shape", []))
    for tensor in schema.get("outputs") or []:
        config.output.add(name=tensor["name"], data_type=_data_type(tensor), dims=tensor.get("shape", []))
    return config


def _data_type(tensor: dict[str, object]) -> int:
    return _DATA_TYPES.get(str(tensor.get("datatype", "")), model_config_pb2.DataType.TYPE_INVALID)
