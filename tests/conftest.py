"""Shared fixtures: the trained sample bucket, free ports; the modelmesh_emulator plugin serves runtimes/ and
sample_models/ through real MLServer processes (`emulator`, `emulator_grpc`, `emulator_rest`, `served`)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.launchers.ports import free_port
from emulator.settings import Settings
from emulator.testing import EmulatorStorage, EmulatorThread

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
UPSTREAM_EXAMPLES = SHARED / "modelmesh-examples"
BUCKET = "modelmesh-example-models"
SAMPLE_MANIFESTS = [ROOT / "runtimes", ROOT / "sample_models"]


@pytest.fixture(scope="session")
def sample_s3_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local S3 stand-in holding the bucket `modelmesh-example-models` trained by sample_models/train.py."""
    root = tmp_path_factory.mktemp("s3")
    subprocess.run([sys.executable, str(ROOT / "sample_models" / "train.py"), "--out", str(root)],
                   check=True, capture_output=True)
    return root


@pytest.fixture(scope="session")
def upstream_s3_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upstream example bucket (../shared/modelmesh-examples) in place, behind a symlink."""
    if not UPSTREAM_EXAMPLES.is_dir():
        pytest.skip("../shared/modelmesh-examples is not present")
    root = tmp_path_factory.mktemp("upstream-s3")
    (root / BUCKET).symlink_to(UPSTREAM_EXAMPLES)
    return root


@pytest.fixture(scope="session")
def make_settings(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "grpc_port": free_port(), "rest_port": free_port(), "metrics_port": free_port(),
            "api_port": free_port(), "launcher": "process",
            "cache_dir": tmp_path_factory.mktemp("cache"), "runtime_stop_grace_s": 10.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def emulator_storage(emulator_storage: EmulatorStorage, sample_s3_root: Path) -> EmulatorStorage:
    """The plugin's storage with the trained sample bucket behind `localMinIO`."""
    return dataclasses.replace(emulator_storage, local_s3_root=sample_s3_root)


@pytest.fixture(scope="session")
def emulator_manifests() -> list[Path]:
    """The project's runtimes/ and sample_models/, applied by the plugin's `emulator` fixture."""
    return SAMPLE_MANIFESTS


@pytest.fixture(scope="module")
def served(emulator_instance: EmulatorThread, emulator_manifests: list[Path]) -> EmulatorThread:
    """`emulator` for module-scoped fixtures: the plugin's shared emulator with the sample manifests applied."""
    emulator_instance.apply(*emulator_manifests)
    return emulator_instance
