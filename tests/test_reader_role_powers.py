"""`qgis role` (and `db roles`) refuse, as the read-only reader, any role that can write."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from sclzonal.db.qgis_tables import ensure_qgis_tables
from tests.helpers import run_cli


@pytest.fixture
def candidate(conn: psycopg.Connection) -> Iterator[str]:
    name = f"sclzonal_test_candidate_{os.getpid()}"
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    conn.execute("DELETE FROM sclzonal.database_role WHERE role_name = %s", (name,))
    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _state(conn: psycopg.Connection, name: str) -> tuple[object, ...]:
    registered = conn.execute("SELECT purpose FROM sclzonal.database_role WHERE role_name = %s",
                              (name,)).fetchall()
    rules = conn.execute("SELECT has_table_privilege(%s, 'sclzonal.verdict_rule', 'SELECT')",
                         (name,)).fetchone()
    return registered, rules


@pytest.mark.parametrize("power", [
    "GRANT pg_write_all_data TO {}",
    "GRANT pg_execute_server_program TO {}",
    "ALTER ROLE {} SUPERUSER",
    "ALTER ROLE {} BYPASSRLS",
    "ALTER ROLE {} CREATEROLE",
    "GRANT UPDATE ON sclzonal.verdict_rule TO PUBLIC",
    "GRANT INSERT ON public.layer_styles TO {}",
])
def test_a_role_that_can_write_is_refused(capsys: pytest.CaptureFixture[str], database_url: str,
                                          conn: psycopg.Connection, candidate: str, power: str) -> None:
    ensure_qgis_tables(conn)
    conn.execute(sql.SQL(power).format(sql.Identifier(candidate)))
    try:
        before = _state(conn, candidate)
        code, out, err = run_cli(capsys, database_url, "qgis", "role", "--name", candidate)
        assert code == 1 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"sclzonal: error: role {candidate} ")
        # role attributes were refused before; privileges and memberships are refused now
        assert "must not have them" in err or "cannot be the read-only reader: it can write" in err
        assert _state(conn, candidate) == before  # nothing registered, nothing granted
    finally:
        conn.execute("REVOKE UPDATE ON sclzonal.verdict_rule FROM PUBLIC")


def test_a_plain_role_becomes_the_reader(capsys: pytest.CaptureFixture[str], database_url: str,
                                         conn: psycopg.Connection, candidate: str) -> None:
    code, _, err = run_cli(capsys, database_url, "qgis", "role", "--name", candidate)
    assert code == 0, err
    assert _state(conn, candidate) == ([("reader",)], (False,))
    assert conn.execute("SELECT has_table_privilege(%s, 'sclzonal.polygon_verdict', 'SELECT')",
                        (candidate,)).fetchone() == (True,)
