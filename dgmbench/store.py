"""The results store: one SQLite file (WAL mode, so several processes can write at once).

Table ``runs``: one row per run with its full record, versions, device, wall time, peak memory,
status and example counts. Table ``metrics``: one row per metric value. pandas reads both.

A run's row is written as ``running`` before any work, with the host and process id that own it.
Ctrl-C and SIGTERM settle it (``interrupted``); a process killed outright (SIGKILL, out of memory)
cannot, so opening the store marks a ``running`` row whose process no longer exists on this host
``abandoned``.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    error TEXT,
    protocol TEXT NOT NULL,
    protocol_version TEXT,
    cell TEXT,
    model TEXT NOT NULL,
    plugin TEXT,
    plugin_version TEXT,
    dataset TEXT NOT NULL,
    budget TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    record TEXT NOT NULL,
    code_version TEXT,
    libraries TEXT,
    device TEXT,
    wall_time_s REAL,
    train_time_s REAL,
    train_images_per_s REAL,
    epochs INTEGER,
    steps INTEGER,
    peak_memory_bytes INTEGER,
    n_train INTEGER,
    n_test INTEGER,
    data_note TEXT,
    out_dir TEXT,
    host TEXT,
    pid INTEGER,
    checkpoint TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    metric TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    feature_net TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id);
"""


class Store:
    """A handle on one results file. Every write is its own short transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            self._add_new_columns(db)
            self._mark_abandoned(db)

    @staticmethod
    def _add_new_columns(db) -> None:
        """Files written by an older dgmbench get the columns added since (nothing is dropped)."""
        have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        create = SCHEMA.split("CREATE TABLE IF NOT EXISTS runs (")[1].split(");")[0]
        for line in create.strip().splitlines():
            name, kind = line.strip().rstrip(",").split()[:2]
            if name not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")

    @staticmethod
    def _mark_abandoned(db) -> None:
        """``running`` rows of this host whose process is gone were killed without settling."""
        rows = db.execute("SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
                          (socket.gethostname(),)).fetchall()
        gone = [run_id for run_id, pid in rows if not _alive(pid)]
        db.executemany("UPDATE runs SET status = 'abandoned', error = ? WHERE run_id = ? AND status = 'running'",
                       [("the process ended without settling the run (killed?); its last checkpoint is kept",
                         run_id) for run_id in gone])

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA busy_timeout=60000")
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    def start_run(self, **fields) -> str:
        run_id = fields.pop("run_id", None) or uuid.uuid4().hex[:12]
        row = {"run_id": run_id, "created": time.time(), "status": "running", "host": socket.gethostname(),
               "pid": os.getpid(), **fields}
        for key in ("config", "libraries"):
            if key in row and not isinstance(row[key], str):
                row[key] = json.dumps(row[key], sort_keys=True)
        cols = ", ".join(row)
        with self._connect() as db:
            db.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        return run_id

    def update_run(self, run_id: str, **fields) -> None:
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as db:
            db.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*fields.values(), run_id])

    def add_metrics(self, run_id: str, metric: str, values: dict, feature_net: str | None = None) -> None:
        now = time.time()
        with self._connect() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                           [(run_id, metric, k, float(v), feature_net, now) for k, v in values.items()])

    def runs(self):
        import pandas as pd

        with self._connect() as db:
            return pd.read_sql_query("SELECT * FROM runs ORDER BY created", db)

    def metrics(self):
        import pandas as pd

        with self._connect() as db:
            return pd.read_sql_query(
                "SELECT m.*, r.protocol, r.protocol_version, r.cell, r.model, r.dataset, r.budget, r.seed, "
                "r.status, r.device FROM metrics m JOIN runs r USING (run_id) ORDER BY m.created", db)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
