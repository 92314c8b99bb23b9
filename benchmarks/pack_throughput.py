"""Cells per minute of ``dgmbench reproduce --jobs N`` against one at a time, on one device.

    python benchmarks/pack_throughput.py [--device cpu|cuda] [--protocol posterior-collapse]
        [--budget smoke] [--cells CELL ...] [--runs 8] [--max-steps 200] [--jobs 1 2 auto] [--output FILE]

Each setting runs the same ``--runs`` runs (the first cell, or the named cells, over seeds 0, 1, ...)
into a fresh results file, timed from the command's start to its end (start-up, the auto probe,
every run's metrics included): cells per minute = runs / minutes. Prints a table and the speed-up
over ``--jobs 1``; ``--output`` writes the numbers with each packed sweep's packing.json (N, MPS,
the probe). Runs on a CPU too (``--jobs 2`` on two cores), where it checks the mechanism rather
than the GPU's idle time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep(args, jobs: str, folder: Path) -> dict:
    results = folder / f"jobs-{jobs}" / "results.sqlite"
    results.parent.mkdir(parents=True)
    cells = args.cells or [first_cell(args.protocol)]
    seeds = [str(s) for s in range(-(-args.runs // len(cells)))]
    cmd = [sys.executable, "-m", "dgmbench", "reproduce", args.protocol, "--budget", args.budget, "--cells", *cells,
           "--seeds", *seeds, "--jobs", jobs, "--device", args.device, "--no-progress", "--grid-samples", "0",
           "--results", str(results)] + (["--max-steps", str(args.max_steps)] if args.max_steps else []) \
        + (["--data-root", args.data_root] if args.data_root else [])
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    runs = len(cells) * len(seeds)
    packing = results.parent / "packing.json"
    return {"jobs": jobs, "runs": runs, "seconds": round(seconds, 2), "cells_per_min": round(runs / seconds * 60, 2),
            "exit": done.returncode, "packing": json.loads(packing.read_text()) if packing.exists() else None}


def first_cell(protocol: str) -> str:
    from dgmbench.plugins import load_registry

    return load_registry().get("protocols", protocol).cells[0].key


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--protocol", default="posterior-collapse")
    ap.add_argument("--budget", default="smoke")
    ap.add_argument("--cells", nargs="+")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--jobs", nargs="+", default=["1", "2"])
    ap.add_argument("--data-root")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pack-throughput-") as tmp:
        rows = [sweep(args, j, Path(tmp)) for j in args.jobs]
    base = next((r["cells_per_min"] for r in rows if r["jobs"] == "1"), None)
    print(f"{args.protocol} / {args.budget} (max_steps {args.max_steps}) on {args.device}: {rows[0]['runs']} runs")
    print(f"{'jobs':>6} {'N':>4} {'MPS':>4} {'seconds':>9} {'cells/min':>10} {'x one-at-a-time':>16}")
    for r in rows:
        p = r["packing"] or {}
        speed = f"{r['cells_per_min'] / base:.2f}" if base else "-"
        print(f"{r['jobs']:>6} {p.get('jobs', 1):>4} {('yes' if p.get('mps') else 'no'):>4} {r['seconds']:>9.1f} "
              f"{r['cells_per_min']:>10.2f} {speed:>16}" + ("" if r["exit"] == 0 else f"  (exit {r['exit']})"))
    if args.output:
        args.output.write_text(json.dumps({"args": vars(args) | {"output": str(args.output)}, "rows": rows}, indent=2))
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
