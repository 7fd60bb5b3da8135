"""The CLI without an emulator: exit codes, one-line errors, --debug, and options read from Settings."""

from __future__ import annotations

import os
import socket
import subprocess
import typing
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.control.tables import human_duration
from emulator.launchers.ports import free_port
from emulator.settings import Settings
from tests.control.test_cli_e2e import BIN


@pytest.fixture(autouse=True)
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No kubeconfig: the server comes from the options and settings under test, not from a running emulator."""
    monkeypatch.setenv("MMEMU_KUBECONFIG", str(tmp_path / "missing-kubeconfig"))


def test_an_unreachable_emulator_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    server = f"http://127.0.0.1:{free_port()}"

    code = main(["get", "isvc", "--server", server])

    assert code == 1
    assert capsys.readouterr().err == (f"error: cannot reach the emulator at {server}: is `modelmesh-emulator serve` "
                                       "running? (--server / MMEMU_SERVER)\n")


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(Exception, match="cannot reach the emulator"):
        main(["--debug", "status", "--server", f"http://127.0.0.1:{free_port()}"])


def test_server_defaults_to_the_api_port_setting(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.delenv("MMEMU_SERVER", raising=False)
    monkeypatch.setenv("MMEMU_API_PORT", str(port))

    assert main(["status"]) == 1
    assert f"https://127.0.0.1:{port}" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as missing:
        main(["describe", "isvc"])
    with pytest.raises(SystemExit) as both:
        main(["delete", "isvc", "x", "-f", "x.yaml"])

    assert (missing.value.code, both.value.code) == (2, 2)
    assert "error: give either -f FILE or TYPE NAME, not both" in capsys.readouterr().err


def test_serve_launcher_choices_come_from_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])

    choices = typing.get_args(Settings.model_fields["launcher"].annotation)
    assert f"--launcher {{{','.join(choices)}}}" in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "age"), [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"),
                                              (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"), (3 * 86400, "3d"),
                                              (3 * 86400 + 7200, "3d2h"), (400 * 86400, "400d")])
def test_age_is_kubernetes_human_duration(seconds: int, age: str) -> None:
    assert human_duration(seconds) == age


def test_an_invalid_setting_is_one_line_naming_its_variable(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMEMU_SERVER", raising=False)
    monkeypatch.setenv("MMEMU_API_PORT", "eighty")

    assert main(["status"]) == 1
    assert capsys.readouterr().err == ("error: invalid settings: MMEMU_API_PORT: Input should be a valid integer, "
                                       "unable to parse string as an integer (got 'eighty')\n")


@pytest.mark.parametrize("option", ["--grpc-port", "--api-port"])
def test_serve_on_a_port_in_use_exits_1_with_one_line(option: str, tmp_path: Path) -> None:
    ports = {"--grpc-port": "0", "--rest-port": "0", "--api-port": "0"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ports[option] = str(port)
        result = subprocess.run(
            [str(BIN / "modelmesh-emulator"), "serve", "--no-watch", "--launcher", "process", "--cache-dir",
             str(tmp_path), *(arg for pair in ports.items() for arg in pair)],
            capture_output=True, text=True, timeout=120, env=os.environ | {"MMEMU_METRICS_PORT": "0"})

    error = result.stderr.splitlines()[-1]
    assert result.returncode == 1
    assert error.startswith("error: cannot start the emulator: "), result.stderr
    assert f"127.0.0.1:{port}" in error or f"('127.0.0.1', {port})" in error, "the message names the address"
    assert error.endswith("Is another one running? Other ports: --grpc-port, --rest-port, --api-port, "
                          "MMEMU_METRICS_PORT")
