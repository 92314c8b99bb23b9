"""Where a sweep's run records are executed: this process, a Ray cluster, or Slurm.

``dgmbench reproduce`` turns a protocol into a list of run records (:class:`Job`) and hands it to
:func:`run_jobs`, the one place that turns records into stored results:

* ``local`` (the default): one run after another in this process, straight into the store; with
  ``--jobs N`` (or ``auto``), N runs at once on this machine's one device, each in its own worker
  process (:mod:`dgmbench.packing`), their rows brought home as from a remote worker.
* ``ray``: one Ray task per record (``ray.init()`` starts a local cluster, ``--address`` joins
  one), with the protocol's ``resources`` (or ``--num-cpus`` / ``--num-gpus``) per task.
* ``slurm``: one Slurm job per record through submitit (``--slurm-partition``, ``--slurm-time``,
  ``--num-gpus``); ``--slurm-cluster local`` uses submitit's local executor (no Slurm needed).

No scheduler of our own: the engine places and runs the tasks. A remote run executes in
:func:`dgmbench.worker.run_record` and ships its rows and small files back; the driver alone
writes the results store. A run whose worker dies (killed, out of memory, a lost node) or fails
with an unexpected error is submitted again, ``--retries`` times (default 1), resuming from its
checkpoint when the new worker can reach it; if it fails again, the failure is stored. Ray and
submitit are imported only when chosen (``pip install 'dgmbench[ray]'`` / ``'dgmbench[slurm]'``).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DgmbenchError
from .specs import RunRecord

EXECUTORS = ("local", "ray", "slurm")


@dataclass
class Job:
    """One run record to execute; ``resume`` continues from its checkpoint when there is one."""

    record: RunRecord
    resume: bool = False
    attempt: int = 0  # earlier tries (a retry resumes)

    def label(self) -> str:
        r = self.record
        return f"{r.protocol}/{r.cell or r.model}/seed {r.seed}"


@dataclass
class Settings:
    """How to execute a sweep (the command line's executor options)."""

    executor: str = "local"
    results: Path | None = None
    out_root: Path | None = None          # where the driver keeps run folders (grids, curves)
    checkpoint_root: str | None = None    # shared storage for remote workers' run folders
    retries: int = 1
    max_parallel: int | None = None
    num_cpus: float | None = None
    num_gpus: float | None = None
    address: str | None = None
    slurm_partition: str | None = None
    slurm_time: int = 60
    slurm_folder: Path | None = None
    slurm_cluster: str | None = None
    progress: bool = True
    jobs: int | str = 1                   # local: runs at once, each in a worker process ("auto": probed)
    device: str = "auto"                  # the sweep's device, for ``jobs="auto"`` and CUDA MPS
    probe: dict = field(default_factory=dict)  # what ``--jobs auto`` measured and chose
    #: per finished job: (job, shipment) for remote runs, for timing (benchmarks/executors.py)
    finished: list = field(default_factory=list)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The executor options of ``dgmbench reproduce``."""
    g = p.add_argument_group("executors (running a sweep past one machine)")
    g.add_argument("--executor", default="local", choices=EXECUTORS,
                   help="local: one run after another here (default); ray: one Ray task per run; "
                        "slurm: one Slurm job per run through submitit")
    g.add_argument("--jobs", default="1", metavar="N|auto",
                   help="local: run N cells at once on this machine's device, each in its own worker process "
                        "(auto: N from a short probe of one cell, the free device memory and the CPU cores)")
    g.add_argument("--address", help="ray: the cluster to join (default: start a local one)")
    g.add_argument("--max-parallel", type=int, help="ray/slurm: at most this many runs at once")
    g.add_argument("--num-cpus", type=float, help="ray/slurm: CPUs per run (default: the protocol's, else 1)")
    g.add_argument("--num-gpus", type=float, help="ray/slurm: GPUs per run (default: the protocol's, else 0)")
    g.add_argument("--retries", type=int, default=1,
                   help="ray/slurm/--jobs: run a run whose worker died or crashed again this many times (default 1)")
    g.add_argument("--checkpoint-dir", help="ray/slurm: shared storage for the workers' run folders and "
                                            "checkpoints (default: a folder on each worker, named in the run's row)")
    g.add_argument("--slurm-partition", help="slurm: the partition")
    g.add_argument("--slurm-time", type=int, default=60, help="slurm: minutes per job (default 60)")
    g.add_argument("--slurm-folder", type=Path, help="slurm: submitit's job folder, shared with the jobs "
                                                     "(default: next to the results file)")
    g.add_argument("--slurm-cluster", choices=["slurm", "local", "debug"],
                   help="slurm: submitit's cluster (default: slurm when sbatch exists, else local processes)")


def settings_from(args, results: Path) -> Settings:
    if args.retries < 0 or (args.max_parallel is not None and args.max_parallel < 1):
        raise DgmbenchError("--retries must be >= 0 and --max-parallel >= 1")
    jobs = getattr(args, "jobs", "1")
    if jobs != "auto" and not (str(jobs).isdigit() and int(jobs) >= 1):
        raise DgmbenchError(f"--jobs {jobs}: give a whole number >= 1 or auto")
    if (jobs == "auto" or int(jobs) > 1) and args.executor != "local":
        raise DgmbenchError("--jobs packs runs with the local executor; with ray/slurm use --max-parallel")
    return Settings(executor=args.executor, results=results, out_root=args.out, checkpoint_root=args.checkpoint_dir,
                    retries=args.retries, max_parallel=args.max_parallel, num_cpus=args.num_cpus,
                    num_gpus=args.num_gpus, address=args.address, slurm_partition=args.slurm_partition,
                    slurm_time=args.slurm_time, slurm_folder=args.slurm_folder, slurm_cluster=args.slurm_cluster,
                    progress=not args.no_progress, jobs=jobs if jobs == "auto" else int(jobs),
                    device=getattr(args, "device", "auto") or "auto")


def run_jobs(jobs: list[Job], settings: Settings, reg, report) -> int:
    """Execute ``jobs``; ``report(outcome)`` is called for each run that ends ``ok``. Returns the
    number of runs that did not (each is named on stderr, and stored when it got that far)."""
    if not jobs:
        return 0
    if settings.executor == "local":
        from .packing import Processes, choose_jobs

        n = choose_jobs(jobs, settings) if settings.jobs == "auto" else min(int(settings.jobs), len(jobs))
        if n <= 1:
            if settings.jobs != 1:  # packing was asked for: say that one at a time was chosen
                from .packing import write_packing
                from .runner import default_results_path

                write_packing(Path(settings.results or default_results_path()).resolve(),
                              {"jobs": 1, "mps": False, "device": settings.device, **settings.probe})
            return _run_local(jobs, settings, reg, report)
        settings.max_parallel = n
        engine = Processes(settings, n)
    else:
        engine = _Ray(settings) if settings.executor == "ray" else _Submitit(settings)
    try:
        return _run_remote(engine, jobs, settings, reg, report)
    finally:
        engine.close()


def _run_local(jobs, s: Settings, reg, report) -> int:
    """Today's behaviour: in this process, one after another (a bug in a plugin stops the sweep)."""
    from .runner import execute

    failed = 0
    for job in jobs:
        print(f"== {job.label()}", flush=True)
        try:
            report(execute(job.record, results=s.results, out_root=s.out_root, resume=job.resume,
                           progress=s.progress, reg=reg))
        except DgmbenchError as exc:  # one failed cell must not stop the table
            failed += 1
            print(f"error: {job.label()}: {exc}", file=sys.stderr)
    return failed


def resources(reg, record: RunRecord, s: Settings) -> dict:
    """CPUs and GPUs for one run: the command line's, else the protocol's, else 1 CPU and no GPU."""
    from .runner import protocol_for

    protocol = protocol_for(reg, record)
    declared = dict(getattr(protocol, "resources", None) or {})
    return {"num_cpus": s.num_cpus if s.num_cpus is not None else declared.get("num_cpus", 1),
            "num_gpus": s.num_gpus if s.num_gpus is not None else declared.get("num_gpus", 0)}


def _run_remote(engine, jobs, s: Settings, reg, report) -> int:
    """Keep at most ``max_parallel`` runs in the engine; settle each as it returns."""
    from .runner import default_results_path

    results = Path(s.results or default_results_path()).resolve()
    out_root = Path(s.out_root or results.parent / "runs")
    pending, running, failed = deque(jobs), {}, 0
    limit = s.max_parallel or len(jobs)
    try:
        failed = _settle_all(engine, pending, running, limit, s, reg, report, results, out_root)
    except BaseException:  # Ctrl-C or SIGTERM: local workers end too (finished runs are already stored)
        if hasattr(engine, "kill"):
            engine.kill(list(running))
        raise
    return failed


def _settle_all(engine, pending, running, limit, s: Settings, reg, report, results, out_root) -> int:
    from .runner import RunOutcome
    from .worker import import_shipment

    failed = 0
    while pending or running:
        while pending and len(running) < limit:
            job = pending.popleft()
            where = s.executor if s.executor != "local" else "worker process"
            print(f"== {job.label()} -> {where}" + (f" (retry {job.attempt})" if job.attempt else ""), flush=True)
            running[engine.submit(job, resources(reg, job.record, s))] = (job, time.perf_counter())
        for handle, shipment, lost in engine.wait(list(running)):
            job, submitted = running.pop(handle)
            if shipment is not None:
                shipment["driver_s"] = time.perf_counter() - submitted
            why = lost or (shipment["error"] if shipment["retry"] else "")
            if why and job.attempt < s.retries:
                print(f"warning: {job.label()}: {why}; running it again (try {job.attempt + 2} of {s.retries + 1}, "
                      "from its checkpoint when the worker can reach it)", file=sys.stderr)
                pending.appendleft(Job(job.record, resume=True, attempt=job.attempt + 1))
                continue
            s.finished.append((job, shipment))
            if shipment is None:
                store_lost(results, reg, job.record, f"the worker was lost {job.attempt + 1} times; last: {lost}")
                failed += 1
                print(f"error: {job.label()}: worker lost ({lost}); stored as failed", file=sys.stderr)
                continue
            out_dir = out_root / job.record.key()
            import_shipment(results, shipment, out_dir)
            if shipment["status"] != "ok":
                failed += 1
                print(f"error: {job.label()}: {shipment['status']}: {shipment['error']}", file=sys.stderr)
                continue
            report(RunOutcome(shipment["run_id"], job.record, "ok", metrics=shipment["metrics"], out_dir=out_dir,
                              wall_time_s=shipment["wall_time_s"], budget=shipment["budget"],
                              train_images_per_s=shipment.get("train_images_per_s")))
    return failed


def store_lost(results: Path, reg, record: RunRecord, error: str) -> str:
    """A ``failed`` row for a run whose workers all died (their own rows died with them)."""
    from .runner import code_version, library_versions, plan
    from .store import Store

    p = plan(reg, record)
    plugin = reg.plugins.get(p.spec.plugin)
    store = Store(results)
    run_id = store.start_run(
        protocol=record.protocol or "default", protocol_version=p.protocol.version if p.protocol else "1",
        cell=record.cell, model=p.spec.name, plugin=p.spec.plugin, plugin_version=plugin.version if plugin else "",
        dataset=p.dataset.name, budget=p.budget.name, seed=record.seed, config=p.config, record=record.to_json(),
        code_version=code_version(), libraries=library_versions(), device=record.device)
    store.update_run(run_id, status="failed", error=error, finished=time.time())
    return run_id


class _Ray:
    """One Ray task per run. Ray's own task retries are off: ours resume from the checkpoint."""

    def __init__(self, s: Settings):
        try:
            import ray
        except ImportError:
            raise DgmbenchError("--executor ray needs Ray: pip install 'dgmbench[ray]'") from None
        from .worker import run_record

        self.ray, self.s = ray, s
        self.started = not ray.is_initialized()
        if self.started:
            try:
                ray.init(address=s.address, include_dashboard=False, logging_level="WARNING")
            except ConnectionError as exc:
                raise DgmbenchError(f"--address {s.address}: cannot join the Ray cluster ({exc})") from None
        self.task = ray.remote(max_retries=0)(run_record)

    def submit(self, job: Job, res: dict):
        return self.task.options(**res).remote(job.record.to_json(), self.s.checkpoint_root, job.resume)

    def wait(self, handles):
        done, _ = self.ray.wait(handles, num_returns=1)
        out = []
        for ref in done:
            try:
                out.append((ref, self.ray.get(ref), ""))
            except self.ray.exceptions.RayError as exc:  # the worker died (WorkerCrashedError...) or was lost
                out.append((ref, None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"))
        return out

    def close(self):
        if self.started:
            self.ray.shutdown()


class _Submitit:
    """One Slurm job per run through submitit (or its local executor: one process per run)."""

    POLL_S = 0.5

    def __init__(self, s: Settings):
        try:
            import submitit
        except ImportError:
            raise DgmbenchError("--executor slurm needs submitit: pip install 'dgmbench[slurm]'") from None
        from .runner import default_results_path

        folder = s.slurm_folder or Path(s.results or default_results_path()).resolve().parent / "submitit"
        self.executor = submitit.AutoExecutor(folder=folder, cluster=s.slurm_cluster)
        self.executor.update_parameters(timeout_min=s.slurm_time, slurm_partition=s.slurm_partition,
                                        name="dgmbench")
        self.s = s

    def submit(self, job: Job, res: dict):
        from .worker import run_record

        gpus = int(res["num_gpus"])
        self.executor.update_parameters(cpus_per_task=max(1, int(res["num_cpus"])),
                                        **({"gpus_per_node": gpus} if gpus else {}))
        return self.executor.submit(run_record, job.record.to_json(), self.s.checkpoint_root, job.resume)

    def wait(self, handles):
        while True:
            done = [j for j in handles if j.done()]
            if done:
                break
            time.sleep(self.POLL_S)
        out = []
        for j in done:
            try:
                out.append((j, j.result(), ""))
            except Exception as exc:  # the job was killed, timed out or could not start
                out.append((j, None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"))
        return out

    def close(self):
        pass
