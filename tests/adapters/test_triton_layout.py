"""The Triton model repository the adapter lays out from pulled files, as ModelMesh's Triton adapter does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emulator.adapters.triton_layout import LayoutError, write_triton_layout

CONFIG = """name: "whatever-the-user-called-it"
backend: "onnxruntime"
max_batch_size: 8
input [ { name: "x", data_type: TYPE_FP32, dims: [ 4 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 2 ] } ]
"""


def link(path: Path) -> str:
    return f"/models/{path.name}"


def test_an_onnx_file_becomes_version_1_model_onnx(tmp_path: Path) -> None:
    pulled = tmp_path / "mnist.onnx"
    pulled.write_bytes(b"onnx")

    write_triton_layout(tmp_path / "repo" / "m", "onnx", pulled, None, link)

    assert os.readlink(tmp_path / "repo" / "m" / "1" / "model.onnx") == "/models/mnist.onnx"
    assert not (tmp_path / "repo" / "m" / "config.pbtxt").exists()


def test_a_native_repository_keeps_its_config_without_the_name(tmp_path: Path) -> None:
    pulled = tmp_path / "native"
    (pulled / "1").mkdir(parents=True)
    (pulled / "3").mkdir()
    (pulled / "config.pbtxt").write_text(CONFIG)

    write_triton_layout(tmp_path / "repo" / "m", "onnx", pulled, None, link)

    config = (tmp_path / "repo" / "m" / "config.pbtxt").read_text()
    assert "whatever-the-user-called-it" not in config
    assert 'backend: "onnxruntime"' in config
    assert sorted(os.readlink(tmp_path / "repo" / "m" / v) for v in ("1", "3")) == ["/models/1", "/models/3"]


def test_a_schema_replaces_the_tensors_without_the_batch_dimension(tmp_path: Path) -> None:
    pulled = tmp_path / "native"
    (pulled / "1").mkdir(parents=True)
    (pulled / "config.pbtxt").write_text(CONFIG)
    schema = tmp_path / "_schema.json"
    schema.write_text(json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
                                  "outputs": [{"name": "digit", "datatype": "INT64", "shape": [-1, 1]}]}))

    write_triton_layout(tmp_path / "repo" / "m", "onnx", pulled, schema, link)

    config = (tmp_path / "repo" / "m" / "config.pbtxt").read_text()
    assert 'name: "pixels"' in config and "dims: 64" in config and "dims: -1" not in config
    assert 'name: "digit"' in config and 'name: "x"' not in config


def test_a_schema_with_a_fixed_batch_dimension_conflicts_with_batching(tmp_path: Path) -> None:
    pulled = tmp_path / "native"
    (pulled / "1").mkdir(parents=True)
    (pulled / "config.pbtxt").write_text(CONFIG)
    schema = tmp_path / "_schema.json"
    schema.write_text(json.dumps({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [1, 64]}]}))

    with pytest.raises(LayoutError, match="max_batch_size > 0, then the first dimension of all inputs and outputs "
                                          "must have size -1"):
        write_triton_layout(tmp_path / "repo" / "m", "onnx", pulled, schema, link)


def test_a_pytorch_file_with_a_schema_gets_a_generated_config(tmp_path: Path) -> None:
    pulled = tmp_path / "model-dir"
    pulled.mkdir()
    (pulled / "traced.pt").write_bytes(b"pt")
    schema = tmp_path / "_schema.json"
    schema.write_text(json.dumps({"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [3]}],
                                  "outputs": [{"name": "OUTPUT__0", "datatype": "FP32", "shape": [3]}]}))

    write_triton_layout(tmp_path / "repo" / "m", "pytorch", pulled, schema, link)

    assert os.readlink(tmp_path / "repo" / "m" / "1" / "model.pt") == "/models/traced.pt"
    config = (tmp_path / "repo" / "m" / "config.pbtxt").read_text()
    assert 'backend: "pytorch"' in config and 'name: "INPUT__0"' in config
