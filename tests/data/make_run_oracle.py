"""Regression oracle for refactors of the run path (runner, training, metrics).

Runs a few tiny CPU jobs through the command line, in process, and writes what they stored --
statuses, steps, epochs, metric values and the training history -- to ``run_oracle.json``
beside this script. ``tests/test_run_oracle.py`` runs the same jobs and compares with the file:
a refactor that is meant to change nothing must store the same rows.

Regenerate (only when a change of the numbers is intended, and say so in the commit):

    OMP_NUM_THREADS=1 python tests/data/make_run_oracle.py

The jobs: ``reproduce posterior-collapse --budget smoke --seeds 0`` (two VAE cells on synthetic
data: importance-sampled NLL, active units, ELBO surgery), ``run --plugin realnvp --dataset
digits --budget smoke`` (a flow: exact log-likelihood, a checkpoint), ``eval`` of that checkpoint
(the evaluate-from-checkpoint path) and ``run --plugin gaussian`` (a model fitted in one call).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "run_oracle.json"
RUN_COLUMNS = ("protocol", "cell", "model", "dataset", "budget", "seed", "status", "error", "config", "epochs",
               "steps", "planned_steps", "planned_epochs", "n_train", "n_test", "stopped", "data_note")


def jobs(folder: Path) -> list[list[str]]:
    common = ["--results", str(folder / "r.sqlite"), "--no-progress", "--device", "cpu"]
    runs = str(folder / "runs")
    return [
        ["reproduce", "posterior-collapse", "--budget", "smoke", "--seeds", "0", "--out", runs, *common],
        ["run", "--plugin", "realnvp", "--dataset", "digits", "--budget", "smoke", "--out", runs, *common],
        ["eval", "--checkpoint", "@realnvp", *common[:2], "--device", "cpu"],
        ["run", "--plugin", "gaussian", "--dataset", "digits", "--budget", "smoke", "--out", runs, *common],
    ]


def _rows(db: Path) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out = []
    for run in con.execute("SELECT * FROM runs ORDER BY created"):
        row = {k: run[k] for k in RUN_COLUMNS}
        row["data_note"] = (row["data_note"] or "").replace(str(db.parent), "<tmp>")
        row["metrics"] = {f"{m['metric']}/{m['name']}": m["value"] for m in con.execute(
            "SELECT metric, name, value FROM metrics WHERE run_id = ? ORDER BY metric, name", (run["run_id"],))}
        row["history"] = [[h["step"], h["name"], h["value"]] for h in con.execute(
            "SELECT step, name, value FROM history WHERE run_id = ? ORDER BY rowid", (run["run_id"],))]
        out.append(row)
    con.close()
    return out


def collect() -> list[dict]:
    """Run the jobs in a temporary folder and return the stored rows, oldest first."""
    from dgmbench.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for argv in jobs(folder):
            if "@realnvp" in argv:
                ck = next((folder / "runs").glob("realnvp-*/checkpoint.pt"))
                argv = [str(ck) if a == "@realnvp" else a for a in argv]
            with contextlib.redirect_stdout(io.StringIO()) as out:
                code = main(argv)
            if code != 0:
                raise SystemExit(f"dgmbench {' '.join(argv)} exited {code}:\n{out.getvalue()}")
        return _rows(folder / "r.sqlite")


def environment() -> dict:
    import torch

    # the same build on another processor may round differently (its vector kernels): exact only on this one
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "")
    return {"torch": torch.__version__, "machine": platform.machine(), "python": platform.python_version(),
            "cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _cpuinfo() -> list:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return [f"model name: {platform.processor()}"]


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(HERE.parent.parent))
    ORACLE.write_text(json.dumps({"environment": environment(), "rows": collect()}, indent=1) + "\n")
    print(f"wrote {ORACLE}")
