"""Test support: sclzonal's three roles made by `sclzonal db roles`, with names unique per test run.

Roles are cluster-wide, so every module gets names carrying the process id and a tag of its own,
random passwords (ignored by a cluster that trusts 127.0.0.1, checked by one that does not),
and the roles are dropped again when the module ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sclzonal.cli import main

PURPOSES = ("owner", "loader", "reader")


@dataclass(frozen=True)
class Roles:
    """Names and connection strings of the three roles on one database."""

    admin_url: str
    names: dict[str, str]
    urls: dict[str, str]

    @property
    def owner(self) -> str:
        """The owner role's URL."""
        return self.urls["owner"]

    @property
    def loader(self) -> str:
        """The loader role's URL."""
        return self.urls["loader"]

    @property
    def reader(self) -> str:
        """The reader role's URL."""
        return self.urls["reader"]


def role_options(names: dict[str, str], passwords: dict[str, str]) -> list[str]:
    """Return `db roles` options naming the roles and reading their passwords from variables."""
    options = []
    for purpose in PURPOSES:
        variable = f"SCLZ_TEST_{purpose.upper()}_PASSWORD_{os.getpid()}"
        os.environ[variable] = passwords[purpose]
        options += [f"--{purpose}", names[purpose], f"--{purpose}-password-env", variable]
    return options


@contextmanager
def sclzonal_roles(database_url: str, tag: str) -> Iterator[Roles]:
    """Run `sclzonal db roles` as the administrator of `database_url`; drop the roles after."""
    names = {purpose: f"sclz_{tag}_{os.getpid()}_{purpose}" for purpose in PURPOSES}
    passwords = {purpose: secrets.token_hex(12) for purpose in PURPOSES}
    assert main(["--database-url", database_url, "db", "roles", *role_options(names, passwords)]) == 0
    urls = {purpose: make_conninfo(database_url, user=names[purpose], password=passwords[purpose])
            for purpose in PURPOSES}
    try:
        yield Roles(database_url, names, urls)
    finally:
        drop_roles(database_url, list(names.values()))


def drop_roles(database_url: str, names: list[str]) -> None:
    """Drop roles that hold objects and privileges only in this database (objects go to the
    administrator first)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        existing = [name for name in names if conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()]
        if not existing:
            return
        for name in existing:  # one by one: DROP OWNED BY of several trips on shared default ACLs
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        for name in existing:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
