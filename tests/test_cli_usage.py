"""The CLI without an emulator: exit codes, one-line errors, --debug, and options read from Settings."""

from __future__ import annotations

import typing

import pytest

from emulator.cli import main
from emulator.control.tables import human_duration
from emulator.launchers.ports import free_port
from emulator.settings import Settings


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
    assert f"http://127.0.0.1:{port}" in capsys.readouterr().err


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
