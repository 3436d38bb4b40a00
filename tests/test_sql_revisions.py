"""Revisions apply the SQL they recorded: sql/ cannot change under a released revision unnoticed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from sclzonal.db import migrate

ROOT = Path(__file__).resolve().parents[1]
RUN_TIME_ONLY = {"qgis_tables.sql"}  # QGIS's own tables in public, made by the qgis commands


def _recorded() -> list[tuple[str, dict[str, str]]]:
    """(revision, {file: SHA-256}) from the oldest revision to the newest."""
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    revisions = list(script.walk_revisions("base", "heads"))[::-1]
    return [(r.revision, dict(getattr(r.module, "SQL_FILES", {}))) for r in revisions]


def test_every_file_of_sql_is_what_its_newest_revision_recorded() -> None:
    newest: dict[str, tuple[str, str]] = {}
    for revision, files in _recorded():
        newest.update({name: (revision, sha256) for name, sha256 in files.items()})
    on_disk = {path.name for path in (ROOT / "sql").glob("*.sql")}
    assert on_disk - RUN_TIME_ONLY == set(newest), "every file of sql/ is applied by a revision"
    stale = []
    for name, (revision, sha256) in sorted(newest.items()):
        if migrate.sha256_of(migrate.sql_file_text(name)) != sha256:
            stale.append(f"sql/{name} changed after revision {revision} recorded it: copy the old text "
                         f"to {migrate.frozen_path(revision, name)} (git show HEAD:sql/{name}) and add "
                         f"a new revision whose SQL_FILES applies sql/{name} with SHA-256 "
                         f"{migrate.sha256_of(migrate.sql_file_text(name))}")
    assert not stale, "\n".join(stale)


def test_every_revision_finds_the_exact_text_it_recorded() -> None:
    for revision, files in _recorded():
        for name, sha256 in files.items():
            assert migrate.sha256_of(migrate.recorded_sql(revision, name, sha256)) == sha256


def test_no_frozen_copy_is_left_unused() -> None:
    recorded = {(revision, name) for revision, files in _recorded() for name in files}
    frozen = resources.files("sclzonal.db.migrations").joinpath("frozen")
    kept = {(folder.name, file.name) for folder in frozen.iterdir() if folder.is_dir()
            for file in folder.iterdir() if file.name.endswith(".sql")}
    assert kept <= recorded
    for revision, name in kept:  # a copy is kept only for a file sql/ no longer holds as recorded
        sha256 = dict(_recorded())[revision][name]
        assert migrate.sha256_of(migrate.sql_file_text(name)) != sha256


def test_a_changed_file_without_its_frozen_copy_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    original = migrate.sql_file_text("scl_classes.sql")
    recorded = migrate.sha256_of(original)
    monkeypatch.setattr(migrate, "sql_file_text", lambda name: original + "-- edited\n")
    with pytest.raises(RuntimeError, match="db/migrations/frozen/0002/scl_classes.sql is missing"):
        migrate.recorded_sql("0002", "scl_classes.sql", recorded)
    with pytest.raises(RuntimeError, match="is missing"):
        migrate.recorded_sql("0002", "scl_classes.sql", "0" * 64)
