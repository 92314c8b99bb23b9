"""Results files: reading never writes, and every fault of the file is one line naming it, exit 2."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from dgmbench.cli import main
from dgmbench.errors import StoreError
from dgmbench.store import Store, _store_error

#: the first schema dgmbench wrote (no train_images_per_s, host, pid, checkpoint, history...)
OLD_SCHEMA = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    error TEXT, protocol TEXT NOT NULL, protocol_version TEXT, cell TEXT, model TEXT NOT NULL, plugin TEXT,
    plugin_version TEXT, dataset TEXT NOT NULL, budget TEXT NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL,
    record TEXT NOT NULL, code_version TEXT, libraries TEXT, device TEXT, wall_time_s REAL, train_time_s REAL,
    epochs INTEGER, steps INTEGER, peak_memory_bytes INTEGER, n_train INTEGER, n_test INTEGER, data_note TEXT,
    out_dir TEXT);
CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(run_id), metric TEXT NOT NULL, name TEXT NOT NULL,
    value REAL, feature_net TEXT, created REAL NOT NULL);
CREATE INDEX metrics_run ON metrics(run_id);
"""


def old_file(path: Path, wal: bool, device=None) -> Path:
    """An old-schema results file with two seeds of the mnist-nll 'vae' cell; ``device`` NULL
    (a row written by another tool)."""
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    for seed, nll in ((0, 90.0), (1, 92.0)):
        db.execute("INSERT INTO runs (run_id, created, status, protocol, protocol_version, cell, model, dataset, "
                   "budget, seed, config, record, device) VALUES (?, ?, 'ok', 'mnist-nll', '3', 'vae', 'vae', "
                   "'mnist-binarized', 'quick', ?, '{}', '{}', ?)", (f"r{seed}", 1.7e9 + seed, seed, device))
        db.execute("INSERT INTO metrics VALUES (?, 'nll', 'nll', ?, NULL, ?)", (f"r{seed}", nll, 1.7e9 + seed))
    db.commit()
    db.close()  # the last connection: SQLite checkpoints the WAL into the file and removes -wal/-shm
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(capsys, *names) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "unexpected" not in err and "DGMBENCH_DEBUG" not in err
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("wal", [True, False])
def test_reading_an_old_file_leaves_its_bytes_unchanged(tmp_path, capsys, wal):
    path = old_file(tmp_path / "old.sqlite", wal)
    before = digest(path)
    for fmt in ("md", "csv", "json", "latex"):
        assert main(["leaderboard", "mnist-nll", "--results", str(path), "--format", fmt]) == 0
    assert main(["list", "models"]) == 0 and main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "91.000 ± 1.414 (n=2)" in out  # NULL device tolerated; the two seeds as mean, spread, count
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.sqlite"]  # no -wal, no -shm
    store = Store(path, readonly=True)
    assert store.runs().checkpoint.isna().all() and len(store.history()) == 0  # newer columns/tables: empty
    with pytest.raises(StoreError, match="read-only"):
        store.update_run("r0", status="failed")
    assert digest(path) == before
    Store(path)  # a writer upgrades the file
    assert "checkpoint" in {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(runs)")}


def test_reading_beside_a_live_writer_sees_its_rows(tmp_path):
    path = tmp_path / "r.sqlite"
    writer = Store(path)
    keep = sqlite3.connect(path)  # an open connection keeps the -wal file, as a running process does
    keep.execute("SELECT count(*) FROM runs").fetchall()
    run = writer.start_run(protocol="p", model="m", dataset="d", budget="b", seed=0, config={}, record="{}")
    assert Path(f"{path}-wal").exists()
    assert list(Store(path, readonly=True).runs().run_id) == [run]
    keep.close()


@pytest.mark.parametrize("command", [["leaderboard", "mnist-nll"], ["run", "--plugin", "gaussian", "--budget", "smoke",
                                                                     "--no-progress"]])
def test_a_file_that_is_not_sqlite(tmp_path, capsys, command):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n")
    before = digest(path)
    assert main([*command, "--results", str(path)]) == 2
    assert "not a dgmbench results file" in one_error_line(capsys, path)
    assert digest(path) == before


def test_results_pointing_at_a_folder(tmp_path, capsys):
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", "--results", str(tmp_path)]) == 2
    assert "is a folder" in one_error_line(capsys, tmp_path)
    assert main(["leaderboard", "mnist-nll", "--results", str(tmp_path)]) == 2
    one_error_line(capsys, tmp_path)


def test_an_sqlite_file_of_another_program(tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    before = digest(path)
    assert main(["leaderboard", "mnist-nll", "--results", str(path)]) == 2
    assert "another program" in one_error_line(capsys, path)
    assert digest(path) == before


@pytest.mark.parametrize("damage", ["DROP TABLE metrics", "ALTER TABLE runs DROP COLUMN status"])
def test_a_damaged_file_is_refused_never_healed(tmp_path, capsys, damage):
    path = old_file(tmp_path / "r.sqlite", wal=False)
    db = sqlite3.connect(path)
    if damage.startswith("DROP TABLE"):
        db.execute("DROP INDEX metrics_run")
    db.execute(damage)
    db.commit()
    db.close()
    before = digest(path)
    for command in (["leaderboard", "mnist-nll"],
                    ["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress"]):
        assert main([*command, "--results", str(path)]) == 2
        assert "is damaged" in one_error_line(capsys, path)
    assert digest(path) == before
    assert len(sqlite3.connect(path).execute("SELECT * FROM runs").fetchall()) == 2  # the rows are still there


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root writes through read-only permissions")
def test_a_read_only_results_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress",
                     "--results", str(folder / "r.sqlite")]) == 2
        one_error_line(capsys, folder / "r.sqlite")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("fault, words", [
    (sqlite3.OperationalError("attempt to write a readonly database"), "is read-only"),
    (sqlite3.OperationalError("database or disk is full"), "no space left"),
    (OSError(28, "No space left on device"), "no space left"),
    (sqlite3.DatabaseError("file is not a database"), "not a dgmbench results file"),
    (sqlite3.OperationalError("unable to open database file"), "cannot be opened"),
    (PermissionError(13, "Permission denied"), "is read-only"),
])
def test_sqlite_faults_read_as_one_line(tmp_path, fault, words):
    message = str(_store_error(tmp_path / "r.sqlite", fault))
    assert "\n" not in message and str(tmp_path / "r.sqlite") in message and words in message


def test_doctor_reports_damage_and_writes_a_repaired_copy(tmp_path, capsys):
    path = old_file(tmp_path / "r.sqlite", wal=False)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO metrics VALUES ('gone', 'nll', 'nll', 1.0, NULL, 0)")  # a metric of no run
    db.execute("DROP INDEX metrics_run")
    db.commit()
    db.close()
    assert main(["doctor", str(path)]) == 0
    assert "1 metric rows belong to no run" in capsys.readouterr().out
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE runs RENAME TO runs_old")  # the runs table is "gone"
    db.commit()
    db.close()
    before = digest(path)
    assert main(["doctor", str(path)]) == 1
    assert "DAMAGED: table runs is missing" in capsys.readouterr().out
    assert main(["doctor", str(path), "--repair", str(tmp_path / "fixed.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "runs: missing" in out and "metrics: 3 rows of runs that are gone left out" in out
    assert digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["fixed.sqlite", "r.sqlite"]
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE runs_old RENAME TO runs")
    db.commit()
    db.close()
    fixed = tmp_path / "fixed2.sqlite"
    assert main(["doctor", str(path), "--repair", str(fixed)]) == 0
    store = Store(fixed, readonly=True)
    assert sorted(store.runs().run_id) == ["r0", "r1"] and len(store.metrics()) == 2  # the orphan is left out
