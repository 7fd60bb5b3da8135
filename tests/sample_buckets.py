"""Buckets of the Triton and TorchServe sample models, written by their scripts in sample_models/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

__all__ = ["sample_bucket"]

SAMPLE_MODELS = Path(__file__).resolve().parents[1] / "sample_models"


def sample_bucket(tmp_path_factory: pytest.TempPathFactory, script: str) -> Path:
    """A fresh local-S3 root holding what `sample_models/<script>.py` writes."""
    spec = importlib.util.spec_from_file_location(script, SAMPLE_MODELS / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp(f"{script}-s3")
    module.write(root)
    return root
