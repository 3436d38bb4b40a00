"""A statement_timeout on the role or in PGOPTIONS gives one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.helpers import write_raster


@pytest.mark.parametrize("timeout_ms", [1, 60])
def test_scl_load_under_a_short_statement_timeout(empty_conn: psycopg.Connection, database_url: str,
                                                  tmp_path: Path, timeout_ms: int) -> None:
    conn = empty_conn
    pixels = (np.arange(600 * 600) % 12).astype(np.uint8).reshape(600, 600)
    path = write_raster(tmp_path / "SCL_2024-06-05.tif", pixels)
    env = {**os.environ, "PGOPTIONS": f"-c statement_timeout={timeout_ms}"}
    result = subprocess.run([sys.executable, "-m", "sclzonal.cli", "--database-url", database_url,
                             "scl", "load", str(path)], capture_output=True, text=True, timeout=120,
                            env=env, check=False)
    assert "Traceback" not in result.stderr and "Exception in thread" not in result.stderr
    stored = conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone()
    if result.returncode == 0:
        assert stored == (1,)
    else:
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "statement timeout" in result.stderr and stored == (0,)
