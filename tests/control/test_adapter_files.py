"""What `describe` lists of the files an adapter wrote: the model's directories only, symlinks not followed."""

from __future__ import annotations

from pathlib import Path

from emulator.control.adapter_files import adapter_files


def test_lists_the_adapter_directory_with_config_contents_and_link_targets(tmp_path: Path) -> None:
    models = tmp_path / "models"
    pulled = models / "m__isvc-1"
    pulled.mkdir(parents=True)
    (pulled / "model.bin").write_bytes(b"x" * 10)
    written = models / "_triton_models" / "m__isvc-1"
    (written / "1").mkdir(parents=True)
    config = 'backend: "onnxruntime"\n'
    (written / "config.pbtxt").write_text(config)
    (written / "1" / "model.onnx").symlink_to(pulled / "model.bin")
    secret = tmp_path / "secret.json"
    secret.write_text('{"password": "x"}')
    (written / "linked.json").symlink_to(secret)

    entries = adapter_files(models, "m__isvc-1")

    assert entries == [
        {"path": "_triton_models/m__isvc-1/config.pbtxt", "sizeBytes": len(config), "content": config},
        {"path": "_triton_models/m__isvc-1/linked.json", "linkTo": str(secret)},
        {"path": "_triton_models/m__isvc-1/1/model.onnx", "linkTo": str(pulled / "model.bin")},
    ]


def test_the_pulled_directory_when_no_adapter_wrote_one_and_nothing_outside(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.joblib").write_bytes(b"12345")

    assert adapter_files(tmp_path, "m") == [{"path": "m/model.joblib", "sizeBytes": 5}]
    assert adapter_files(tmp_path, "..") == [] and adapter_files(tmp_path, "../m") == []
    assert adapter_files(tmp_path, "missing") == []
