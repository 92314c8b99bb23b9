"""``dgmbench doctor RESULTS [--repair OUT]``: what is wrong with a results file, and a repaired copy.

The file itself is only read (SQLite ``mode=ro``): a damaged store is never healed in place. The
report lists the tables and their rows, what the schema lacks, SQLite's ``integrity_check``,
``running`` rows and metric rows whose run is gone. ``--repair OUT`` writes a new results file
with the full schema and every row that can be kept: runs (the columns both files have), their
metrics and history; rows that belong to no run are counted and left out.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import StoreError
from .store import REQUIRED, SCHEMA_VERSION, Store, _check_file


def _read_only(path: Path):
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _columns(db, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def diagnose(path: Path) -> tuple[list[str], bool]:
    """Report lines and whether the file is sound."""
    _check_file(path, readonly=True)
    lines, sound = [], True
    try:
        db = _read_only(path)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"results file {path} cannot be read ({exc})") from None
    with db:
        for table in sorted(tables):
            lines.append(f"table {table}: {db.execute(f'SELECT count(*) FROM {table}').fetchone()[0]} rows")
        for table, needed in REQUIRED.items():
            if table not in tables:
                lines.append(f"DAMAGED: table {table} is missing")
                sound = False
            elif needed - set(_columns(db, table)):
                lines.append(f"DAMAGED: table {table} lacks {', '.join(sorted(needed - set(_columns(db, table))))}")
                sound = False
        if version > SCHEMA_VERSION:
            lines.append(f"NEWER: schema version {version}, written by a newer dgmbench (this one's: "
                         f"{SCHEMA_VERSION}); upgrade dgmbench to use it")
            sound = False
        if integrity != "ok":
            lines.append(f"DAMAGED: SQLite integrity_check: {integrity}")
            sound = False
        if {"runs", "metrics"} <= tables and "run_id" in _columns(db, "runs"):
            orphans = db.execute("SELECT count(*) FROM metrics WHERE run_id NOT IN (SELECT run_id FROM runs)")
            count = orphans.fetchone()[0]
            if count:
                lines.append(f"{count} metric rows belong to no run")
        if "runs" in tables and "status" in _columns(db, "runs"):
            running = db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
            if running:
                lines.append(f"{running} runs are 'running' (live, or killed: a run's next open marks dead ones "
                             "abandoned)")
    db.close()
    return lines, sound


def repair(path: Path, out: Path) -> list[str]:
    """Copy what can be kept into a new file ``out`` (which must not exist); returns report lines."""
    if out.exists():
        raise StoreError(f"{out} exists; --repair writes a new file")
    _check_file(path, readonly=True)
    Store(out)  # the full, current schema
    src, dst = _read_only(path), sqlite3.connect(out)
    try:
        return _copy(path, src, dst)
    except BaseException:
        dst.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out}{suffix}").unlink(missing_ok=True)
        raise
    finally:
        src.close()
        dst.close()


def _copy(path: Path, src, dst) -> list[str]:
    tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    kept_runs: set = set()
    lines = []
    with dst:
        for table in ("runs", "metrics", "history"):
            if table not in tables:
                lines.append(f"{table}: missing in {path}, nothing to copy")
                continue
            cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
            rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            if table != "runs":
                i = cols.index("run_id")
                dropped = [r for r in rows if r[i] not in kept_runs]
                rows = [r for r in rows if r[i] in kept_runs]
                if dropped:
                    lines.append(f"{table}: {len(dropped)} rows of runs that are gone left out")
            try:
                dst.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            except sqlite3.IntegrityError as exc:  # a required column the damaged table lost
                raise StoreError(f"{table} rows of {path} cannot be kept ({exc}); no repaired file written") from None
            if table == "runs":
                kept_runs = {r[cols.index("run_id")] for r in rows}
            lines.append(f"{table}: {len(rows)} rows copied")
    return lines
