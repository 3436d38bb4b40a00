"""The exit codes of `sclzonal`, in one table: `main` returns them, `--help` and docs/cli.md show them."""

from __future__ import annotations

OK = 0
"""The command did what it was asked."""
ERROR = 1
"""An error the user can fix, or a database error: one line `sclzonal: error: ...` on stderr."""
USAGE = 2
"""The command line is wrong (unknown option, missing argument, bad value): click's usage error."""
BUSY = 3
"""Another run of the same job (refresh, ingest) held its lock past this run's wait limit; this
run did nothing (one line `sclzonal: busy: ...` on stderr)."""
ABORTED = 130
"""Interrupted (Ctrl-C) or a prompt was aborted."""

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (OK, "success"),
    (ERROR, "an error you can fix, or a database error (one line on stderr)"),
    (USAGE, "usage error: unknown command or option, missing argument, bad value"),
    (BUSY, "busy: another run held the job's lock past --wait; nothing was done"),
    (ABORTED, "aborted (Ctrl-C, or a prompt was aborted)"),
)
"""Every exit code and what it means, in the order shown."""


def help_epilog() -> str:
    """Return the exit code table as a paragraph of `sclzonal --help` (kept line by line)."""
    lines = [f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES]
    return "\b\nExit codes:\n" + "\n".join(lines)


def markdown_table() -> str:
    """Return the exit code table in Markdown."""
    rows = [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES]
    return "\n".join(["| exit code | meaning |", "|---|---|", *rows]) + "\n"
