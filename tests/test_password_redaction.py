"""No message of sclzonal, nor a line of scripts/scheduled-ingest, shows the database password.

libpq quotes the malformed part of a connection string in its messages, which is often the
password: a bad percent-escape, a space, an unescaped @ (whose end libpq takes for the host).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PASSWORD_PIECES = ("Zq7", "Wx9vK", "Zq7Wx9vK")


def _connection_strings(port: str) -> list[str]:
    return [
        f"postgresql://someone:Zq7%zzWx9vK@127.0.0.1:{port}/db",   # bad percent-escape
        f"postgresql://someone:Zq7@Wx9vK@127.0.0.1:{port}/db",      # unescaped @
        f"host=127.0.0.1 port={port} password=Zq7 Wx9vK dbname=db",  # space in the password
        f"host=127.0.0.1 port={port} password='Zq7Wx9vK dbname=db",  # unterminated quote
        "postgresql://someone:Zq7Wx9vK@127.0.0.1:1/db",             # nobody listens
        f"postgresql://127.0.0.1:{port}/db?password=Zq7%zzWx9vK",  # password as a parameter
    ]


def _port() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url.rsplit(":", 1)[-1].split("/")[0] if url.count(":") >= 2 else "5432"


def _leaks(text: str) -> list[str]:
    return [piece for piece in PASSWORD_PIECES if piece in text]


@pytest.mark.parametrize("conninfo", _connection_strings(_port()))
def test_cli_errors_never_show_the_password(conninfo: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sclzonal.cli", "--database-url", conninfo,
                             "db", "status"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("sclzonal: error: ") and result.stderr.count("\n") == 1
    assert _leaks(result.stdout + result.stderr) == [], result.stderr


def test_the_scheduled_job_log_never_shows_it(tmp_path: Path) -> None:
    log = tmp_path / "ingest.log"
    for conninfo in _connection_strings(_port()):
        env = {**os.environ, "SCLZONAL_INGEST_LOG": str(log), "DATABASE_URL": conninfo,
               "SCLZONAL_BIN": str(Path(sys.executable).parent / "sclzonal")}
        result = subprocess.run([str(ROOT / "scripts" / "scheduled-ingest")],
                                capture_output=True, text=True, timeout=60, env=env, check=False)
        assert result.returncode != 0
        assert _leaks(result.stdout + result.stderr) == [], result.stderr
    text = log.read_text()
    assert "FAILED" in text and _leaks(text) == []
