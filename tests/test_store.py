"""The SQLite results store under concurrent writers."""
import multiprocessing as mp

from dgmbench.store import Store


def _writer(path, worker, n):
    store = Store(path)
    for i in range(n):
        run = store.start_run(protocol="p", model=f"m{worker}", dataset="d", budget="smoke", seed=i,
                              config={"i": i}, record="{}")
        store.add_metrics(run, "nll", {"nll": float(i), "bpd": worker + i / 100})
        store.update_run(run, status="ok")


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store(path)
    runs, metrics = store.runs(), store.metrics()
    assert len(runs) == 100 and set(runs.status) == {"ok"}
    assert len(metrics) == 200
    assert sorted(metrics[metrics.name == "nll"].groupby("model").size()) == [25] * 4


def test_wal_mode(tmp_path):
    import sqlite3

    Store(tmp_path / "r.sqlite")
    assert sqlite3.connect(tmp_path / "r.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_results_file_gets_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, created REAL NOT NULL, status TEXT NOT NULL, "
               "protocol TEXT NOT NULL, model TEXT NOT NULL, dataset TEXT NOT NULL, budget TEXT NOT NULL, "
               "seed INTEGER NOT NULL, config TEXT NOT NULL, record TEXT NOT NULL)")
    db.execute("INSERT INTO runs VALUES ('old', 0, 'ok', 'p', 'm', 'd', 'quick', 0, '{}', '{}')")
    db.execute("CREATE TABLE metrics (run_id TEXT NOT NULL, metric TEXT NOT NULL, name TEXT NOT NULL, "
               "value REAL, feature_net TEXT, created REAL NOT NULL)")
    db.commit()
    db.close()
    store = Store(path)
    store.update_run("old", train_images_per_s=12.5, peak_memory_bytes=1)
    runs = store.runs()
    assert runs.loc[0, "run_id"] == "old" and runs.loc[0, "train_images_per_s"] == 12.5
