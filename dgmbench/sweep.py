"""A protocol's sweep (``dgmbench reproduce``): which (cell, seed) pairs to run, resume, score
again or skip, running them through :func:`dgmbench.executors.run_jobs`, and writing the table.

For each (cell, seed) of the protocol version and budget, the results file decides:

* **skip** -- a counted run (:data:`dgmbench.store.COUNTED`) measured it, with every metric asked for;
* **fill in** -- measured, but a metric named with ``--metric`` is missing (a column added
  later): its stored checkpoint is scored, no training;
* **resume** -- measured only by ``truncated`` runs that the time cap now lets train further, or
  only by ``partial``/``truncated`` runs with a ``partial`` one among them (a metric failed after
  training: fixed by another option or a download, it is run again): trained on from its checkpoint;
* **run** -- not measured.

Two sweeps on one results file share the work: each claims its pairs in the store first
(:meth:`dgmbench.store.Store.claim`) and skips those another live process holds.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .errors import DgmbenchError, UnknownName
from .paths import results_file
from .preflight import check_feature_nets
from .specs import Cell, ProtocolSpec, RunRecord
from .store import Store


@dataclass
class Done:
    """What the results file holds for one (cell, seed)."""

    metrics: set
    checkpoint: Path | None
    statuses: set


def select_cells(protocol: ProtocolSpec, keys=None) -> list[Cell]:
    """The protocol's cells, or those named (an unknown name is one line listing the cells)."""
    if not keys:
        return list(protocol.cells)
    known = [c.key for c in protocol.cells]
    for key in keys:
        if key not in known:
            raise UnknownName(f"cell of protocol {protocol.name}", key, known)
    return [protocol.cell(k) for k in keys]


def done_cells(store: Store | None, protocol: ProtocolSpec, budget: str) -> dict:
    """(cell, seed) -> :class:`Done`, over the counted runs of this protocol version and budget."""
    if store is None:
        return {}
    runs = store.protocol_runs(protocol.name, protocol.version, budget)
    measured = store.metrics().groupby("run_id").metric.agg(set) if len(runs) else {}
    done: dict = {}
    for run in runs.itertuples():
        key = (run.cell, int(run.seed))
        prior = done.get(key, Done(set(), None, set()))
        checkpoint = Path(run.out_dir) / "checkpoint.pt" if run.n_train and run.out_dir else prior.checkpoint
        done[key] = Done(prior.metrics | measured.get(run.run_id, set()), checkpoint, prior.statuses | {run.status})
    return done


def train_on(done: Done | None, max_seconds: float | None, train_time_s: float | None) -> bool:
    """Whether a measured (cell, seed) is trained again from its checkpoint: every run of it
    ``truncated`` (and the time cap, if any, above the time already trained), or some run
    ``partial`` and none ``ok``."""
    if done is None or "ok" in done.statuses:
        return False
    if "partial" in done.statuses:
        return True
    return max_seconds is None or (train_time_s or 0.0) < max_seconds


def reproduce(reg, protocol: ProtocolSpec, template: RunRecord, budget: str, settings, *, cells=None, seeds=None,
              rerun: bool = False, max_seconds: float | None = None, results: Path | None = None,
              on_outcome: Callable = print) -> int:
    """Run every (cell, seed) of ``protocol`` that the results file lacks, as ``template`` with the
    cell's model, dataset, key and seed; ``budget`` is the resolved budget's name. Returns how
    many failed (a failed cell never stops the others)."""
    from .executors import Job, run_jobs

    results = results_file(results)
    chosen = [c for c in select_cells(protocol, cells) if _installed(reg, c)]
    pairs = [(c.key, s) for c in chosen for s in (seeds or protocol.seeds)]
    store = Store(results)
    got = set(store.claim(protocol.name, protocol.version, budget, pairs))
    try:
        done = {} if rerun else done_cells(store, protocol, budget)
        trained = _train_time(store, protocol, budget)
        failed, jobs = 0, []
        for cell in chosen:
            for seed in seeds or protocol.seeds:
                if (cell.key, seed) not in got:
                    print(f"skip {cell.key} / seed {seed}: another dgmbench process is running it")
                    continue
                d = done.get((cell.key, seed))
                missing = [m for m in template.metrics or [] if d is not None and m not in d.metrics]
                resume = train_on(d, max_seconds, trained.get((cell.key, seed)))
                if resume:
                    why = "a metric failed" if "partial" in d.statuses else "truncated"
                    print(f"resume {cell.key} / seed {seed}: {why} earlier; training on from its checkpoint")
                elif d is not None and not missing:
                    print(f"skip {cell.key} / seed {seed}: already in the results file (--rerun to run it again)")
                    continue
                elif missing:
                    try:
                        on_outcome(fill_in(reg, template, f"{protocol.name} / {cell.key}", seed, missing,
                                           d.checkpoint, results))
                    except DgmbenchError as exc:
                        failed += 1
                        print(f"error: {protocol.name}/{cell.key}/seed {seed}: {exc}", file=sys.stderr)
                    continue
                record = replace(template, model=cell.model, dataset=cell.dataset, protocol=protocol.name,
                                 cell=cell.key, seed=seed, config=dict(template.config),
                                 overrides=dict(template.overrides), options=dict(template.options))
                jobs.append(Job(record, resume=resume))
        check_feature_nets(reg, [job.record for job in jobs])
        return failed + run_jobs(jobs, settings, reg, on_outcome)
    finally:
        store.release(protocol.name, protocol.version, budget, got)


def _installed(reg, cell: Cell) -> bool:
    if cell.model in reg.items["models"]:
        return True
    print(f"skip {cell.key}: model {cell.model!r} is not installed")
    return False


def _train_time(store: Store, protocol: ProtocolSpec, budget: str) -> dict:
    """(cell, seed) -> the longest training time of its counted runs."""
    runs = store.protocol_runs(protocol.name, protocol.version, budget)
    return {(c, int(s)): t for (c, s), t in runs.groupby(["cell", "seed"]).train_time_s.max().items()}


def fill_in(reg, template: RunRecord, name: str, seed: int, missing: list, checkpoint: Path | None, results: Path):
    """Score a measured cell's stored checkpoint for the metrics it lacks (a column added later)."""
    from .runner import evaluate_checkpoint

    if checkpoint is None or not checkpoint.is_file():
        raise DgmbenchError(f"{', '.join(missing)} missing and the run's checkpoint is gone ({checkpoint}); "
                            "--rerun trains it again")
    print(f"== {name} / seed {seed}: measured; scoring its checkpoint for {', '.join(missing)}", flush=True)
    options = {k: v for k, v in template.options.items() if k in ("feature_net", "grid_samples")}
    return evaluate_checkpoint(checkpoint, missing, results=results, device=template.device,
                               data_root=template.data_root, reg=reg, options=options)


def write_leaderboard(reg, name: str, results: Path | None, budget: str | None, fmt: str, output: Path | None) -> None:
    """Export protocol ``name``'s table from the results file (read-only) to ``output`` or stdout."""
    from . import leaderboard

    protocol = reg.get("protocols", name)
    path = results_file(results)
    store = Store(path, readonly=True) if path.exists() else None  # reading never writes (no migration)
    df, caption = leaderboard.build(protocol, store, budget)
    if not any(df[c].notna().any() for c in df.columns if c.endswith("(ours)")):
        committed = Path("leaderboards") / name / "results.sqlite"
        print(f"note: {path} holds no measured runs of {name} v{protocol.version}: `dgmbench reproduce {name}` "
              "fills the table" + (f"; the committed numbers: --results {committed}" if committed.is_file() else ""),
              file=sys.stderr)
    text = leaderboard.export(df, caption, fmt)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        print(f"wrote {output}")
    else:
        print(text, end="")


def write_provenance(output: Path, results: Path | None, budget: str) -> None:
    """What produced a leaderboard file: command, device, budget, date, code, raw results file.
    A table filled by several commands (groups of cells) keeps them all."""
    from .runner import code_version, library_versions

    path = output.with_name(output.name + ".provenance.json")
    source = str(results_file(results))
    earlier = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
            if old.get("results_file") == source and old.get("budget") == budget:
                earlier = old.get("commands") or [{"command": old["command"], "date": old["date"]}]
        except (OSError, ValueError, KeyError):
            pass
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    info = {"commands": [*earlier, {"command": "dgmbench " + " ".join(sys.argv[1:]), "date": now}],
            "budget": budget, "date": now, "results_file": source, "code_version": code_version(),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores",
            "libraries": library_versions()}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    path.write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {path}")
