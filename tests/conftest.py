"""Shared fixtures: the project's trained sample bucket, free ports, and emulators on real MLServer processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.launchers.ports import free_port
from emulator.settings import Settings
from emulator.testing import EmulatorThread

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
UPSTREAM_EXAMPLES = SHARED / "modelmesh-examples"
BUCKET = "modelmesh-example-models"


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
            "cache_dir": tmp_path_factory.mktemp("cache"), "runtime_stop_grace_s": 10.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="module")
def served(make_settings: Callable[..., Settings], sample_s3_root: Path) -> Iterator[EmulatorThread]:
    """One emulator serving the project's runtimes/ and sample_models/, every model loaded."""
    with EmulatorThread(make_settings(local_s3_root=sample_s3_root)) as emu:
        lines = emu.apply_paths([ROOT / "runtimes", ROOT / "sample_models"])
        assert not [line for line in lines if line.startswith("error")], lines
        yield emu
