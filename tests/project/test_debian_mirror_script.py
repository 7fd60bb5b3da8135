"""scripts/debian-mirror.sh: the Debian archive the image scripts fetch from, read from the machine's apt sources
(here: apt directories and os-release files made by the test) instead of a hard-coded URL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "debian-mirror.sh"


def mirror(tmp_path: Path, *, sources: dict[str, str], debootstrap: str | None = None,
           **env: str) -> subprocess.CompletedProcess[str]:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for name, text in sources.items():
        (apt / name).write_text(text)
    (tmp_path / "os-release").write_text('ID=debian\nVERSION_CODENAME=bookworm\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if debootstrap is not None:
        (bin_dir / "debootstrap").write_text(debootstrap)
        (bin_dir / "debootstrap").chmod(0o755)
    base = {key: value for key, value in os.environ.items() if key != "DEBIAN_MIRROR"}
    path = f"{bin_dir}:/usr/bin:/bin"  # no debootstrap of the machine's
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                          env={**base, "PATH": path, "APT_DIR": str(apt), "OS_RELEASE": str(tmp_path / "os-release"),
                               **env})


DEB822 = """Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://mirror.example/debian/ http://second.example/debian
Suites: bookworm bookworm-updates
Components: main
"""


def test_the_deb822_source_of_the_machines_release_is_used(tmp_path: Path) -> None:
    result = mirror(tmp_path, sources={"sources.list.d/debian.sources": DEB822})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://mirror.example/debian"


def test_a_one_line_source_with_options_is_read_and_other_releases_are_skipped(tmp_path: Path) -> None:
    lines = ("# deb http://commented.example/debian bookworm main\n"
             "deb https://packages.example/apt cloud-sdk-bookworm main\n"
             "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian bookworm main\n")
    result = mirror(tmp_path, sources={"sources.list": lines})

    assert result.stdout.strip() == "http://one.example/debian"


def test_debian_mirror_set_wins(tmp_path: Path) -> None:
    result = mirror(tmp_path, sources={"sources.list.d/debian.sources": DEB822},
                    DEBIAN_MIRROR="http://chosen.example/debian")

    assert result.stdout.strip() == "http://chosen.example/debian"


def test_without_a_matching_source_debootstraps_default_is_used(tmp_path: Path) -> None:
    result = mirror(tmp_path, sources={"sources.list": "deb http://old.example/debian bullseye main\n"},
                    debootstrap='#!/bin/sh\nDEF_MIRROR="http://default.example/debian"\n')

    assert result.stdout.strip() == "http://default.example/debian"


@pytest.mark.parametrize("sources", [{}, {"sources.list": "deb cdrom:[Debian]/ bookworm main\n"}])
def test_with_neither_the_script_fails_saying_to_set_debian_mirror(tmp_path: Path,
                                                                   sources: dict[str, str]) -> None:
    result = mirror(tmp_path, sources=sources)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "set DEBIAN_MIRROR" in result.stderr
