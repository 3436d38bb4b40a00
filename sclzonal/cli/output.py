"""Where a command's words go: results on stdout, progress bars and notes on stderr, `-v` and `-q`.

A command's result (the summary line, or with `--json` one JSON object) is the only thing on
stdout, so a scheduler can read it. Progress bars (on a terminal only), notes ("waiting for
another refresh") and, with `--verbose`, timings per step go to stderr; `--quiet` silences them.
With SCLZONAL_PROGRESS=lines in the environment (the QGIS plugin sets it) the bars are lines,
`sclzonal: progress: DESC: N/TOTAL UNIT`, at most five a second, that a caller can parse.
Errors are printed by `sclzonal.cli.main` whatever the verbosity.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class Verbosity:
    """The global `-q/--quiet` and `-v/--verbose` flags."""

    quiet: bool = False
    verbose: bool = False


def verbosity(ctx: click.Context | None = None) -> Verbosity:
    """Return the verbosity the top-level command was given (the default outside it)."""
    ctx = ctx or click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    found = obj.get("verbosity") if isinstance(obj, dict) else None
    return found if isinstance(found, Verbosity) else Verbosity()


class _CountingBar:
    """A progress bar that also counts, for the timings `--verbose` prints."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.count = 0.0

    def update(self, n: float = 1) -> object:
        self.count += n
        return self.bar.update(n)

    def reset(self, total: float | None = None) -> object:
        self.count = 0.0
        return self.bar.reset(total=total)


class _LineBar:
    """A progress bar for programs: `sclzonal: progress: DESC: N/TOTAL UNIT` lines on stderr."""

    EVERY = 0.2
    """Seconds between two lines (the first, a reset and the last are always printed)."""

    def __init__(self, desc: str, unit: str, total: float | None, quiet: bool) -> None:
        self.desc, self.unit, self.total, self.quiet = desc, unit, total, quiet
        self.n, self.shown_at = 0.0, 0.0
        self._show(force=True)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        done = self.total is not None and self.n >= self.total
        if self.quiet or not (force or done or now - self.shown_at >= self.EVERY):
            return
        self.shown_at = now
        of = f"/{self.total:g}" if self.total is not None else ""
        click.echo(f"sclzonal: progress: {self.desc}: {self.n:g}{of}{self.unit}", err=True)

    def update(self, n: float = 1) -> None:
        self.n += n
        self._show()

    def reset(self, total: float | None = None) -> None:
        self.n, self.total = 0.0, total
        self._show(force=True)


@contextmanager
def _bar(level: Verbosity, desc: str, unit: str, total: int | None) -> Iterator[_CountingBar]:
    from tqdm import tqdm

    started = time.perf_counter()
    if os.environ.get("SCLZONAL_PROGRESS") == "lines":
        counting = _CountingBar(_LineBar(desc, unit, total, level.quiet))
        yield counting
    else:
        # disable=None: drawn only on a terminal; --quiet: never.
        with tqdm(disable=True if level.quiet else None, file=sys.stderr, desc=desc, unit=unit,
                  total=total) as bar:
            counting = _CountingBar(bar)
            yield counting
    if level.verbose and not level.quiet:
        click.echo(f"sclzonal: {desc}: {counting.count:g}{unit} in "
                   f"{time.perf_counter() - started:.2f} s", err=True)


def progress(*, desc: str, unit: str, total: int | None = None) -> AbstractContextManager[Any]:
    """Return a progress bar on stderr for the current command (see `CliProgress.bar`)."""
    return _bar(verbosity(), desc, unit, total)


class CliProgress:
    """The CLI's `sclzonal.flows.Progress`: bars and notes on stderr, as -q and -v say."""

    def __init__(self, level: Verbosity | None = None) -> None:
        self.level = level or verbosity()

    def bar(self, *, desc: str, unit: str, total: int | None = None) -> AbstractContextManager[Any]:
        """Return a progress bar on stderr (drawn only on a terminal, never with --quiet).

        With --verbose, how much it counted and how long it took is printed when it closes.
        """
        return _bar(self.level, desc, unit, total)

    def note(self, message: str) -> None:
        """Print a note on stderr (not with --quiet)."""
        note(message, self.level)


def note(message: str, level: Verbosity | None = None) -> None:
    """Print a note on stderr, unless --quiet."""
    if not (level or verbosity()).quiet:
        click.echo(message, err=True)


def detail(message: str, level: Verbosity | None = None) -> None:
    """Print a detail on stderr with --verbose only."""
    level = level or verbosity()
    if level.verbose and not level.quiet:
        click.echo(f"sclzonal: {message}", err=True)


def warn(message: str) -> None:
    """Print a warning on stderr, even with --quiet: something the operator must act on."""
    click.echo(f"sclzonal: warning: {message}", err=True)
