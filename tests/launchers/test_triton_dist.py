"""Finding a runnable Triton for the process launcher, and what it says when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import RuntimeStartError
from emulator.launchers.triton_dist import find_triton, prepare_triton_wrapper


def test_no_triton_in_the_environment_names_where_it_looked_and_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeStartError) as caught:
        find_triton(tmp_path, runtime_name="triton-2.x")

    message = str(caught.value)
    assert message.startswith("ServingRuntime 'triton-2.x': no Triton Inference Server found")
    assert str(tmp_path) in message
    assert "make triton" in message


def test_the_wrapper_runs_the_real_binary_with_the_backends_and_host_flags(tmp_path: Path) -> None:
    try:
        dist = find_triton(None, runtime_name="triton-2.x")
    except RuntimeStartError as exc:
        pytest.skip(f"no runnable Triton: {exc}")

    bin_dir = prepare_triton_wrapper(dist, tmp_path, ["--grpc-port=40001", "--grpc-address=127.0.0.1"])

    script = (bin_dir / "tritonserver").read_text()
    assert str(dist.server) in script
    assert f"--backend-directory={tmp_path / 'tritonserver' / 'backends'}" in script
    assert "'--grpc-port=40001' '--grpc-address=127.0.0.1'" in script
    assert (tmp_path / "tritonserver" / "backends" / "python" / "triton_python_backend_stub").resolve() == dist.stub
