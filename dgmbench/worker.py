"""Run one record where the results file may be out of reach, and bring its rows home.

A worker (a Ray task, a Slurm job) need not share a filesystem with the driver. It runs the
record with :func:`dgmbench.runner.execute` into a private SQLite file and returns a *shipment*
(a plain dict, so any engine can pickle it): every row of that file that belongs to the run
(``runs``, ``metrics``, ``history``: every table with a ``run_id`` column), the small files of its
output folder (sample grid, curves, record) and the outcome. Checkpoints are not shipped: they
stay in the worker's folder (``checkpoint_root``: shared storage the user names, else
``$DGMBENCH_CACHE/worker-runs`` on the worker) and the row names the path.

The driver writes a shipment into the one results store with :func:`import_shipment`: all of its
rows in one transaction, skipped as a whole when the store already has its ``run_id``, so a
row is never written twice (a duplicated task result, an import repeated after a crash).
"""
from __future__ import annotations

import os
import socket
import sqlite3
import tempfile
import time
from pathlib import Path

#: files of a run's folder above this size stay with the worker (checkpoints always do)
SMALL_FILE_BYTES = 8 * 2 ** 20
CHECKPOINT_NAMES = ("checkpoint.pt", "checkpoint.tmp")


def default_checkpoint_root() -> Path:
    """Where a worker keeps run folders when the user names no shared storage."""
    from .paths import cache_dir

    return cache_dir() / "worker-runs"


def run_record(record_json: str, checkpoint_root: str | None = None, resume: bool = False) -> dict:
    """Execute one run record (JSON) on this machine and return its shipment.

    ``resume``: continue from the checkpoint in the run's folder when there is one (a retried or
    truncated run); without it a stale checkpoint from an earlier run of the same record is
    removed first, so a later retry cannot resume from it. Never raises: an exception becomes the
    shipment's ``error`` (``retry`` says whether running again could help)."""
    from .errors import DgmbenchError
    from .runner import execute
    from .specs import RunRecord

    start = time.perf_counter()
    record = RunRecord.from_json(record_json)
    out_root = Path(checkpoint_root) if checkpoint_root else default_checkpoint_root()
    out_dir = out_root / record.key()
    if not resume:
        for name in CHECKPOINT_NAMES:
            (out_dir / name).unlink(missing_ok=True)
    shipment = {"record": record_json, "host": socket.gethostname(), "status": "failed", "error": "",
                "retry": False, "rows": {}, "files": {}, "checkpoint": None}
    with tempfile.TemporaryDirectory(prefix="dgmbench-worker-") as tmp:
        db = Path(tmp) / "results.sqlite"
        try:
            outcome = execute(record, results=db, out_root=out_root, resume=resume, progress=False)
            shipment.update(status=outcome.status, metrics=outcome.metrics, wall_time_s=outcome.wall_time_s,
                            train_images_per_s=outcome.train_images_per_s, budget=outcome.budget)
        except DgmbenchError as exc:  # bad input, diverged, a metric that failed: running again gives the same
            shipment["error"] = str(exc)
        except BaseException as exc:  # a bug, SIGTERM (a scheduler's time limit), a lost device: worth a retry
            shipment.update(error=f"{type(exc).__name__}: {exc}", retry=True)
        if db.exists():
            shipment["rows"] = read_rows(db)
    runs = shipment["rows"].get("runs", [])
    if runs:
        run = runs[-1]
        shipment.update(run_id=run["run_id"], status=run["status"], budget=run["budget"])
        shipment.setdefault("metrics", {r["name"]: r["value"] for r in shipment["rows"].get("metrics", [])})
        shipment.setdefault("wall_time_s", run.get("wall_time_s") or 0.0)
        if (out_dir / "checkpoint.pt").exists():
            shipment["checkpoint"] = str((out_dir / "checkpoint.pt").resolve())
        shipment["files"] = small_files(out_dir)
    shipment["worker_s"] = time.perf_counter() - start
    return shipment


def read_rows(db: Path) -> dict:
    """table -> rows (dicts) for every table of ``db`` with a ``run_id`` column."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        out = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            cols = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
            if "run_id" in cols:
                out[table] = [dict(r) for r in con.execute(f"SELECT * FROM {table}")]
        return out
    finally:
        con.close()


def small_files(folder: Path) -> dict:
    """relative path -> bytes for the files of ``folder`` that travel (no checkpoints, nothing big)."""
    out = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in CHECKPOINT_NAMES and path.stat().st_size <= SMALL_FILE_BYTES:
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def import_shipment(results: Path, shipment: dict, out_dir: Path) -> bool:
    """Write a shipment's rows into the results store and its files into ``out_dir``.

    One transaction for all rows; False (nothing written) when the store already has the run.
    The run's row names ``out_dir`` (where its grid and curves now are) and keeps the worker's
    ``host``; ``checkpoint`` names where the checkpoint stayed."""
    from .store import Store

    rows = shipment.get("rows") or {}
    if not rows.get("runs"):
        return False
    for rel, data in (shipment.get("files") or {}).items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    Store(results)  # creates the tables and columns this version of dgmbench has
    con = sqlite3.connect(results, timeout=60)
    try:
        with con:
            run_ids = [r["run_id"] for r in rows["runs"]]
            have = con.execute(f"SELECT 1 FROM runs WHERE run_id IN ({','.join('?' * len(run_ids))})",
                               run_ids).fetchone()
            if have:
                return False
            for table, table_rows in rows.items():
                info = con.execute(f"PRAGMA table_info({table})").fetchall()
                if not info:
                    raise sqlite3.OperationalError(f"the results store has no table {table!r} (older dgmbench?)")
                # an INTEGER PRIMARY KEY is the worker's own row counter: the store numbers its rows
                skip = {c[1] for c in info if c[5] and c[2].upper() == "INTEGER" and table != "runs"}
                known = {c[1] for c in info} - skip
                for row in table_rows:
                    if table == "runs":
                        row = {**row, "out_dir": str(out_dir), "checkpoint": shipment.get("checkpoint")}
                    row = {k: v for k, v in row.items() if k in known}
                    con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                list(row.values()))
        return True
    finally:
        con.close()


PROBE_WARMUP_STEPS = 4


def probe_record(record_json: str, steps: int) -> dict:
    """Train one record for a few warm-up steps and then ``steps`` optimizer steps, nothing stored:
    its peak memory (CUDA: reserved bytes; CPU: the process's peak resident set), its seconds per
    step after the warm-up (on an H200 the first steps of an MNIST VAE took ten times the 6 ms of
    the rest: CUDA context, kernel selection, the data's first copy) and the device's free memory
    before the model was built. For ``reproduce --jobs auto`` (:mod:`dgmbench.packing`)."""
    import resource

    import torch

    from .plugins import load_registry
    from .runner import build_model, load_split, plan
    from .specs import RunRecord
    from .training import Hooks, TrainingRun, fit, seed_everything, select_device

    record = RunRecord.from_json(record_json)
    p = plan(load_registry(), record)
    device = select_device(record.device)
    seed_everything(record.seed)
    if device.type == "cuda":
        torch.cuda.init()
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    train = load_split(p.dataset, "train", record, p.budget.max_train_examples)
    model = build_model(p.spec, p.dataset, p.config)
    warm = p.budget.replace(epochs=10 ** 6, max_steps=PROBE_WARMUP_STEPS)
    fit(model, train, TrainingRun(p.dataset, warm, device, record.seed), Hooks(progress=False))
    budget = p.budget.replace(epochs=10 ** 6, max_steps=steps)
    state = fit(model, train, TrainingRun(p.dataset, budget, device, record.seed), Hooks(progress=False))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_reserved(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"device": device.type, "peak_bytes": int(peak), "free_bytes": int(free),
            "step_s": state.seconds / max(1, state.step), "steps": state.step}


def _main(argv=None) -> int:
    """``python -m dgmbench.worker run RECORD.json SHIPMENT.pkl OUT_ROOT [--resume]`` (one run of a
    packed sweep; the shipment is written whole or not at all) or ``... probe RECORD.json OUT.json
    STEPS``."""
    import argparse
    import json
    import pickle
    import signal

    from .errors import Terminated

    ap = argparse.ArgumentParser(prog="python -m dgmbench.worker")
    ap.add_argument("what", choices=["run", "probe"])
    ap.add_argument("record", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("arg")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)

    def terminate(signum, frame):
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)  # a stopped worker settles its run as interrupted
    record_json = args.record.read_text()
    if args.what == "probe":
        result = json.dumps(probe_record(record_json, int(args.arg)))
        args.out.write_text(result)
        return 0
    shipment = run_record(record_json, args.arg, args.resume)
    tmp = args.out.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(shipment, f)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
