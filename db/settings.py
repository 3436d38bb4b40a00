"""Where the database is: `--database-url`, else `DATABASE_URL`, else libpq's own environment."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

SCHEMA = "sclzonal"


def resolve_database_url(explicit: str | None = None) -> str:
    """Return a libpq connection string; empty means "use PGHOST, PGSERVICE and friends"."""
    if explicit:
        return explicit
    return os.environ.get("DATABASE_URL", "")


_URI_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@")
_URI_PASSWORD_PARAMETER = re.compile(r"[?&]password=([^&#]*)")
_QUOTED_PASSWORD = re.compile(r"\bpassword\s*=\s*'((?:[^'\\]|\\.)*)'?")
_PLAIN_PASSWORD = re.compile(r"\bpassword\s*=\s*([^'\s]\S*(?:\s+[^=\s]+(?=\s|$))*)")


def password_candidates(conninfo: str) -> set[str]:
    """Return every text of `conninfo` (and PGPASSWORD) that may be the password or a piece of it.

    Read with regular expressions, not libpq, because the strings that matter most are the
    malformed ones libpq quotes in its messages: a password with a space, an unescaped @ (libpq
    then takes its end for the host name), a bad percent-escape.
    """
    found = {os.environ.get("PGPASSWORD", "")}
    if match := _URI_USERINFO.match(conninfo):
        userinfo = match.group(1)
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            pieces = password.split("@")
            # libpq takes what follows an unescaped @ for the host: "piece@host" in its messages.
            found.update({password, unquote(password), *pieces, *(piece + "@" for piece in pieces[1:])})
    for match in _URI_PASSWORD_PARAMETER.finditer(conninfo):
        found.update({match.group(1), unquote(match.group(1))})
    for pattern in (_QUOTED_PASSWORD, _PLAIN_PASSWORD):
        for match in pattern.finditer(conninfo):
            found.update({match.group(1), *match.group(1).split()})
    return {text for text in found if text}
