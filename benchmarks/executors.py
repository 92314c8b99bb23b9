"""A protocol sweep on a local Ray cluster against one run after another in this process.

The same run records (default: the first 8 cells of ``iwae-table``, the MNIST VAEs and IWAEs, at
the ``smoke`` budget, seed 0)
go through :func:`dgmbench.executors.run_jobs` twice, each into its own results file:

1. local   ``--executor local``: one after another in this process (torch's default threads).
2. ray     ``--executor ray``: one Ray task per run, 1 CPU each, on a local cluster of
           ``--cpus`` CPUs (``ray.init`` is timed apart and not counted in the sweep).

Prints the sweep's wall time each way and their ratio, then Ray's per-run overhead from the
times each task reports:

    execute  the run itself (runner.execute: load data, build, train, evaluate, store)
    worker   the whole remote function: execute + the worker's imports and plugin registry on
             its first task + packing the shipment (rows, sample grid, curves)
    driver   submit -> result back on the driver (at most ``--cpus`` tasks in flight, so none waits)
    overhead in-worker = worker - execute; task start + result transfer = driver - worker

and checks that both executors stored the same numbers (CPU runs are deterministic).

    python benchmarks/executors.py --data-root ../shared/data
    python benchmarks/executors.py --protocol cifar10-bpd --runs 8 --data-root ../shared/data
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def sweep(executor: str, records, results: Path, reg, cpus: int):
    from dgmbench.executors import Job, Settings, run_jobs

    settings = Settings(executor=executor, results=results, out_root=results.parent / "runs", progress=False,
                        checkpoint_root=str(results.parent / "worker-runs"), num_cpus=1, max_parallel=cpus)
    outcomes = []
    start = time.perf_counter()
    failed = run_jobs([Job(r) for r in records], settings, reg, outcomes.append)
    return time.perf_counter() - start, failed, settings.finished, outcomes


def stored(results: Path) -> dict:
    from dgmbench.store import Store

    m = Store(results).metrics()
    return {(row.cell, row.name): row.value for row in m.itertuples()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="iwae-table")
    ap.add_argument("--cells", nargs="+", help="default: the protocol's first --runs cells")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--budget", default="smoke")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster (default 2)")
    args = ap.parse_args()

    import ray
    import torch  # noqa: F401  (imported before the clock starts, as in a warm driver)

    from dgmbench.plugins import load_registry
    from dgmbench.specs import RunRecord

    reg = load_registry()
    protocol = reg.get("protocols", args.protocol)
    cells = [protocol.cell(k) for k in args.cells] if args.cells else list(protocol.cells)[:args.runs]
    data_root = str(Path(args.data_root).resolve()) if args.data_root else None
    records = [RunRecord(model=c.model, dataset=c.dataset, protocol=protocol.name, budget=args.budget, seed=0,
                         cell=c.key, device="cpu", data_root=data_root, options={"grid_samples": 16})
               for c in cells if c.model in reg.items["models"]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local_s, local_failed, _, _ = sweep("local", records, tmp / "local" / "r.sqlite", reg, args.cpus)
        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
        init_s = time.perf_counter() - t
        try:
            ray_s, ray_failed, finished, _ = sweep("ray", records, tmp / "ray" / "r.sqlite", reg, args.cpus)
        finally:
            ray.shutdown()
        a, b = stored(tmp / "local" / "r.sqlite"), stored(tmp / "ray" / "r.sqlite")

    print(f"{len(records)} runs of {protocol.name} ({args.budget}), {args.cpus} CPUs; "
          f"failed: local {local_failed}, ray {ray_failed}")
    print(f"  local  {local_s:8.1f} s")
    print(f"  ray    {ray_s:8.1f} s   (ray.init {init_s:.1f} s not counted)   ray / local = {ray_s / local_s:.2f}")
    done = [s for _, s in finished if s is not None]
    execute = [s.get("wall_time_s") or 0.0 for s in done]
    worker = [s["worker_s"] for s in done]
    driver = [s["driver_s"] for s in done]
    mean = statistics.fmean
    print("per run (mean over the Ray tasks; the first task of each worker process pays its imports):")
    print(f"  execute {mean(execute):6.2f} s   worker {mean(worker):6.2f} s   driver {mean(driver):6.2f} s")
    print(f"  overhead: in-worker {mean(w - e for w, e in zip(worker, execute)):5.2f} s "
          f"(first {worker[0] - execute[0]:.2f} s), task start + result transfer "
          f"{mean(d - w for d, w in zip(driver, worker)):5.2f} s")
    shared = sorted(set(a) & set(b))
    worst = max((abs(a[k] - b[k]) for k in shared), default=float("nan"))
    print(f"same numbers: {len(shared)} values in both stores, largest difference {worst:.3g}"
          + ("" if len(shared) == len(a) == len(b) else f" (local {len(a)} values, ray {len(b)})"))


if __name__ == "__main__":
    main()
