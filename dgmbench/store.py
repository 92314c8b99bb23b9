"""The results store: one SQLite file (WAL mode, so several processes can write at once).

Table ``runs``: one row per run with its full record, versions, device, wall time, peak memory,
status, example counts and its planned and done steps (``stopped`` says what ended a ``truncated``
run early). Table ``metrics``: one row per metric value. Table ``history``: the training curves,
one row per (run, step, name). pandas reads them all.

A run's row is written as ``running`` before any work, with the host and process id that own it.
Ctrl-C and SIGTERM settle it (``interrupted``); a process killed outright (SIGKILL, out of memory)
cannot, so opening the store marks a ``running`` row whose process no longer exists on this host
``abandoned``.

Table ``claims``: the (protocol, version, budget, cell, seed) pairs a live ``reproduce`` is
running, with the host and process that hold them, so that two sweeps on one results file never
run the same cell twice. A claim of a process that no longer exists on this host is void.

``PRAGMA user_version`` is the schema's version (:data:`SCHEMA_VERSION`); a file written by a
newer dgmbench is refused before anything runs.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from .errors import StoreError

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
    checkpoint TEXT,
    planned_steps INTEGER,
    planned_epochs INTEGER,
    stopped TEXT
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
CREATE TABLE IF NOT EXISTS history (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL
);
CREATE INDEX IF NOT EXISTS history_run ON history(run_id);
CREATE TABLE IF NOT EXISTS claims (
    protocol TEXT NOT NULL,
    protocol_version TEXT NOT NULL,
    budget TEXT NOT NULL,
    cell TEXT NOT NULL,
    seed INTEGER NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (protocol, protocol_version, budget, cell, seed)
);
"""

#: the schema this dgmbench writes (``PRAGMA user_version``); 0: files from before it was set
SCHEMA_VERSION = 1

#: run statuses whose numbers count: a leaderboard shows them, and ``reproduce`` does not run them again
COUNTED = ("ok", "partial", "truncated")


#: the tables and columns of the first results files: a file lacking any of them is damaged
#: (tables and columns added since are created when a run writes)
REQUIRED = {"runs": {"run_id", "created", "status", "protocol", "model", "dataset", "budget", "seed", "config",
                     "record"},
            "metrics": {"run_id", "metric", "name", "value", "created"}}
SQLITE_HEADER = b"SQLite format 3\x00"


def readonly_uri(path: Path) -> str:
    """The URI that opens ``path`` for reading only: ``mode=ro``, or ``immutable=1`` when no
    ``-wal`` file exists (then SQLite creates no ``-wal``/``-shm`` file beside it)."""
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    return f"{Path(path).resolve().as_uri()}?{mode}"


class Store:
    """A handle on one results file. Every write is its own short transaction.

    Opening checks the file: a folder, a file that is not SQLite, or a dgmbench file with a table
    or column of :data:`REQUIRED` missing (damaged) is refused with a :class:`StoreError`, and
    nothing is written into it. ``readonly`` (leaderboards, listings, reports) opens it for
    reading only: no schema upgrade, no ``abandoned`` marks, no ``-wal``/``-shm`` files left, the
    file's bytes unchanged. Otherwise tables and columns added since the file was written are
    created (the one place the schema is created or upgraded) and dead ``running`` rows settled.
    """

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path, self.readonly = Path(path), readonly
        _check_file(self.path, readonly)
        with self._connect() as db:
            _check_version(db, self.path)
            tables = _check_schema(db, self.path)
            if readonly:
                self._tables = tables
                return
            db.execute("PRAGMA journal_mode=WAL")
            # one transaction: a process opening the file meanwhile sees no table or every table,
            # never a half-made schema that it would refuse as damaged
            db.executescript(f"BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            self._add_new_columns(db)
            self._mark_abandoned(db)
        self._tables = set(REQUIRED) | {"history", "claims"}

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
        """A connection; SQLite's errors become one :class:`StoreError` line naming the file.
        Read-only: ``mode=ro``, or ``immutable=1`` when no ``-wal`` file exists (then SQLite
        creates no ``-shm`` file either; the whole database is in the main file)."""
        try:
            if self.readonly:
                db = sqlite3.connect(readonly_uri(self.path), uri=True, timeout=60)
            else:
                if not self.path.parent.is_dir():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA busy_timeout=60000")
        except (sqlite3.Error, OSError) as exc:
            raise _store_error(self.path, exc) from None
        try:
            with db:  # commits, or rolls back on error
                yield db
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
        finally:
            db.close()

    def _select(self, db, table: str, query: str, params=()):
        """``query`` on ``table`` as a DataFrame, with every column this dgmbench knows (absent
        ones, in a file from an older version opened read-only, are None)."""
        import pandas as pd

        if table not in self._tables:  # an empty file opened read-only
            df = pd.DataFrame()
        else:
            df = pd.read_sql_query(query, db, params=params)
        for name in _schema_columns(table):
            if name not in df.columns:
                df[name] = None
        return df

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

    def add_history(self, run_id: str, rows: list[dict]) -> None:
        """Training curves: ``{"step", "name", "value"}`` rows (``train/loss``, ``test/bpd``...)."""
        if rows:
            with self._connect() as db:
                db.executemany("INSERT INTO history VALUES (?, ?, ?, ?)",
                               [(run_id, int(r["step"]), r["name"], float(r["value"])) for r in rows])

    def history(self, run_id: str | None = None):
        with self._connect() as db:
            if run_id is None:
                return self._select(db, "history", "SELECT * FROM history ORDER BY run_id, step")
            return self._select(db, "history", "SELECT * FROM history WHERE run_id = ? ORDER BY step", (run_id,))

    def add_metrics(self, run_id: str, metric: str, values: dict, feature_net: str | None = None) -> None:
        now = time.time()
        with self._connect() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                           [(run_id, metric, k, float(v), feature_net, now) for k, v in values.items()])

    def runs(self):
        with self._connect() as db:
            return self._select(db, "runs", "SELECT * FROM runs ORDER BY created")

    def protocol_runs(self, protocol: str, version: str, budget: str, statuses=COUNTED):
        """The runs of one protocol version under one budget whose status is in ``statuses``
        (default :data:`COUNTED`), oldest first."""
        marks = ", ".join("?" * len(statuses))
        with self._connect() as db:
            return self._select(db, "runs", "SELECT * FROM runs WHERE protocol = ? AND protocol_version = ? AND "
                                f"budget = ? AND status IN ({marks}) ORDER BY created",
                                (protocol, str(version), budget, *statuses))

    def claim(self, protocol: str, version: str, budget: str, cells) -> list:
        """Claim ``cells`` ((cell, seed) pairs) of a protocol version and budget for this process;
        return those it got. A pair held by another live process is not taken; one held by a
        process gone from this host (killed) is. All in one transaction, so two processes that
        claim at once never both get a pair."""
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        got = []
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for cell, seed in cells:
                key = (protocol, str(version), budget, cell, int(seed))
                held = db.execute("SELECT host, pid FROM claims WHERE protocol = ? AND protocol_version = ? AND "
                                  "budget = ? AND cell = ? AND seed = ?", key).fetchone()
                if held and (held[0], held[1]) != (host, pid) and not (held[0] == host and not _alive(held[1])):
                    continue
                db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*key, host, pid, now))
                got.append((cell, seed))
        return got

    def release(self, protocol: str, version: str, budget: str, cells) -> None:
        """Give back this process's claims on ``cells`` ((cell, seed) pairs)."""
        with self._connect() as db:
            db.executemany("DELETE FROM claims WHERE protocol = ? AND protocol_version = ? AND budget = ? AND "
                           "cell = ? AND seed = ? AND host = ? AND pid = ?",
                           [(protocol, str(version), budget, cell, int(seed), socket.gethostname(), os.getpid())
                            for cell, seed in cells])

    def metrics(self):
        with self._connect() as db:
            df = self._select(db, "metrics",
                              "SELECT m.*, r.protocol, r.protocol_version, r.cell, r.model, r.dataset, r.budget, "
                              "r.seed, r.status, r.device FROM metrics m JOIN runs r USING (run_id) "
                              "ORDER BY m.created")
        for name in ("protocol", "protocol_version", "cell", "model", "dataset", "budget", "seed", "status",
                     "device"):
            if name not in df.columns:
                df[name] = None
        return df


def _schema_columns(table: str) -> list[str]:
    """The columns :data:`SCHEMA` gives ``table``, in order."""
    body = SCHEMA.split(f"CREATE TABLE IF NOT EXISTS {table} (")[1].split(");")[0]
    return [line.split()[0] for line in body.strip().splitlines()]


def _check_file(path: Path, readonly: bool) -> None:
    """Refuse a folder, a missing file to read, or a file that is not SQLite (by its header)."""
    if path.is_dir():
        raise StoreError(f"results file {path} is a folder; pass a file, e.g. --results {path / 'results.sqlite'}")
    if not path.exists():
        if readonly:
            raise StoreError(f"no results file at {path} (run something first, or pass --results FILE)")
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"results file {path} cannot be read: {exc.strerror or exc}") from None
    if head and head != SQLITE_HEADER:
        raise StoreError(f"{path} is not a dgmbench results file (not SQLite); pass another --results file")


def _check_version(db, path: Path) -> None:
    """Refuse a file written by a newer dgmbench: its schema may mean things this one does not know."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"results file {path} has schema version {version}, newer than this dgmbench's "
                         f"{SCHEMA_VERSION}; upgrade dgmbench or pass another --results file")


def _check_schema(db, path: Path) -> set:
    """The file's tables; a damaged dgmbench file (a table or column of REQUIRED missing) or an
    SQLite file of another program is refused before anything is written."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    ours = tables & (set(REQUIRED) | {"history"})
    if tables and not ours:
        raise StoreError(f"{path} is an SQLite file of another program (tables: {', '.join(sorted(tables))}), "
                         "not a dgmbench results file; pass another --results file")
    if not ours:
        return tables
    missing = [t for t in REQUIRED if t not in tables]
    for table in REQUIRED:
        if table in tables:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            missing += [f"{table}.{c}" for c in sorted(REQUIRED[table] - have)]
    if missing:
        raise StoreError(f"results file {path} is damaged ({', '.join(missing)} missing); dgmbench does not write "
                         f"into it: restore a copy, or move it aside and start a new file (see README, Errors)")
    return tables


def _store_error(path: Path, exc: BaseException) -> StoreError:
    """SQLite's and the OS's faults as one line that names the file and says what to do."""
    text = str(exc)
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        why = "is read-only (the file or its folder); make it writable or pass another --results file"
    elif "full" in text or getattr(exc, "errno", None) == errno.ENOSPC or (
            "disk I/O error" in text and _nearly_full(path)):
        why = "cannot be written: the disk is full (no space left on the device); free some space"
    elif "not a database" in text:
        why = "is not a dgmbench results file (not SQLite); pass another --results file"
    elif "malformed" in text:
        why = "is damaged (SQLite: database disk image is malformed); restore a copy"
    elif "unable to open" in text:
        why = "cannot be opened (missing folder or no permission); check the path or pass another --results file"
    elif "locked" in text:
        why = "is locked by another process for over a minute; try again"
    else:
        why = f"cannot be used ({type(exc).__name__}: {text})"
    return StoreError(f"results file {path} {why}")


def _nearly_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has less than 1 MiB free: SQLite reports a full
    disk during a WAL write as a bare "disk I/O error"."""
    folder = path.parent if path.parent.exists() else Path(".")
    try:
        return shutil.disk_usage(folder).free < 2 ** 20
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
