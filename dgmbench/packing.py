"""Several runs at once on one machine's one device: ``dgmbench reproduce --jobs N|auto``.

Small models leave a GPU mostly idle: an MNIST VAE's training step is a few dozen short kernels,
so its time is launch overhead, and one H200 can run many such runs side by side. Each run of a
packed sweep executes in its own worker process (``python -m dgmbench.worker run ...``) into a
private results file, exactly like a Ray or Slurm worker (:func:`dgmbench.worker.run_record`);
the driver imports each finished run in one transaction
(:func:`dgmbench.worker.import_shipment`). So a sweep cut off mid-way keeps every finished run,
a re-run does only the rest, and a killed worker costs only its own run, which is retried from
its checkpoint (``--retries``).

One subprocess per run rather than ``concurrent.futures.ProcessPoolExecutor``: a pool whose worker
is killed (out of memory, SIGKILL) breaks as a whole and fails every pending run with it.

``--jobs auto`` chooses N from a probe: one worker trains the first run for a few steps and
reports its peak memory (CUDA: reserved bytes; CPU: resident set) and its time per step. Then

    N = min(runs, memory_free * 0.85 // (peak + per-process overhead), CPU cores - 1, launch_limit)

where ``launch_limit`` is 16 for a step under 20 ms (launch-bound: the GPU idles between kernels),
8 under 100 ms, 2 above (one run already keeps the GPU busy). On a CPU each worker gets
``cores // N`` threads and N is the number of cores. With CUDA, when ``nvidia-cuda-mps-control``
exists and we are root, the MPS daemon is started for the sweep so that the workers' kernels share
the GPU concurrently instead of time-slicing; whether it was used is printed and written to
``packing.json`` beside the results file with N and the probe.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: bytes a CUDA worker needs beyond its tensors (the CUDA context and cuDNN/cuBLAS workspaces)
CUDA_CONTEXT_BYTES = 768 * 2 ** 20
#: bytes a CPU worker needs beyond its peak resident set as probed
CPU_PROCESS_BYTES = 256 * 2 ** 20
PROBE_STEPS = 12
MAX_JOBS = 16


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def worker_env(n: int, extra: dict | None = None) -> dict:
    """The environment of one of ``n`` workers: the cores shared out, one thread at least."""
    env = dict(os.environ)
    threads = str(max(1, cores() // n))
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


class Processes:
    """The engine of ``--jobs N``: up to N worker processes at once (the interface of the Ray and
    submitit engines in :mod:`dgmbench.executors`: ``submit``, ``wait``, ``close``)."""

    POLL_S = 0.1

    def __init__(self, settings, n: int):
        from .runner import default_results_path

        self.s, self.n = settings, n
        self.results = Path(settings.results or default_results_path()).resolve()
        self.out_root = Path(settings.out_root or self.results.parent / "runs").resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="dgmbench-jobs-"))
        self.mps = start_mps(self.tmp) if n > 1 and _is_cuda(settings.device) else None
        self.env = worker_env(n, self.mps)
        self.count = 0
        write_packing(self.results, {"jobs": n, "mps": self.mps is not None, "device": settings.device,
                                     **getattr(settings, "probe", {})})
        print(f"packing {n} runs at once on {settings.device}"
              + (" with CUDA MPS" if self.mps is not None else ""), flush=True)

    def submit(self, job, res: dict):
        self.count += 1
        base = self.tmp / f"job{self.count}"
        base.with_suffix(".json").write_text(job.record.to_json())
        cmd = [sys.executable, "-m", "dgmbench.worker", "run", str(base.with_suffix(".json")),
               str(base.with_suffix(".pkl")), str(self.out_root)] + (["--resume"] if job.resume else [])
        log = open(base.with_suffix(".log"), "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        proc.base = base
        return proc

    def wait(self, handles):
        while True:
            done = [p for p in handles if p.poll() is not None]
            if done:
                break
            time.sleep(self.POLL_S)
        out = []
        for p in done:
            shipment_file = p.base.with_suffix(".pkl")
            if shipment_file.exists():
                with open(shipment_file, "rb") as f:
                    shipment = pickle.load(f)
                shipment["files"]["worker.log"] = p.base.with_suffix(".log").read_bytes()
                out.append((p, shipment, ""))
            else:
                tail = p.base.with_suffix(".log").read_text(errors="replace").strip().splitlines()[-1:]
                why = (f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit code {p.returncode}")
                out.append((p, None, f"the worker process died ({why})" + (f": {tail[0][:200]}" if tail else "")))
        return out

    def close(self):
        stop_mps(self.mps)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill(self, handles):
        """The sweep itself was stopped: end its workers (their runs stay out of the store)."""
        for p in handles:
            if p.poll() is None:
                p.terminate()
        for p in handles:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _is_cuda(device: str) -> bool:
    if device.startswith("cuda"):
        return True
    if device != "auto":
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def start_mps(tmp: Path) -> dict | None:
    """Start a CUDA MPS control daemon private to this sweep (its pipe and log folders under
    ``tmp``); the workers' environment that points at it, or None where MPS cannot be used (no
    ``nvidia-cuda-mps-control``, not root, or it did not start)."""
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None or not hasattr(os, "geteuid") or os.geteuid() != 0 or os.environ.get("DGMBENCH_NO_MPS"):
        return None
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(tmp / "mps-pipe"), "CUDA_MPS_LOG_DIRECTORY": str(tmp / "mps-log")}
    for folder in env.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([control, "-d"], env={**os.environ, **env}, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    try:  # a daemon that started but cannot serve (a sandboxed kernel, say) would fail every worker
        subprocess.run([sys.executable, "-c", "import torch; torch.zeros(1, device='cuda').sum().item()"],
                       env={**os.environ, **env}, check=True, timeout=120, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        stop_mps(env)
        print("warning: the CUDA MPS daemon started but a CUDA process could not use it; packing without MPS",
              file=sys.stderr)
        return None
    return env


def stop_mps(env: dict | None) -> None:
    if env is None:
        return
    try:
        subprocess.run([shutil.which("nvidia-cuda-mps-control") or "nvidia-cuda-mps-control"], input=b"quit\n",
                       env={**os.environ, **env}, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        pass


def write_packing(results: Path, info: dict) -> None:
    """``packing.json`` beside the results file: how the last packed sweep into it ran."""
    try:
        results.parent.mkdir(parents=True, exist_ok=True)
        (results.parent / "packing.json").write_text(json.dumps(info, indent=2) + "\n")
    except OSError:
        pass


def probe(jobs, settings) -> dict:
    """Train the first run for a few steps in a worker process: its peak memory, time per step,
    and the device's free memory (see :func:`dgmbench.worker.probe_record`)."""
    with tempfile.TemporaryDirectory(prefix="dgmbench-probe-") as tmp:
        rec, out = Path(tmp) / "record.json", Path(tmp) / "probe.json"
        rec.write_text(jobs[0].record.to_json())
        done = subprocess.run([sys.executable, "-m", "dgmbench.worker", "probe", str(rec), str(out),
                               str(PROBE_STEPS)], env=worker_env(1), capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            print(f"warning: --jobs auto: the probe run failed ({last[0][:200]}); running one at a time",
                  file=sys.stderr)
            return {}
        return json.loads(out.read_text())


def jobs_for(p: dict, runs: int, n_cores: int) -> tuple[int, str]:
    """N from a probe (see the module's docstring) and the reason, in words."""
    if not p:
        return 1, "no probe"
    if p["device"] == "cpu":
        by_mem = int(p["free_bytes"] * 0.85 // (p["peak_bytes"] + CPU_PROCESS_BYTES))
        n = max(1, min(runs, n_cores, by_mem))
        return n, f"cpu: {n_cores} cores, memory for {by_mem}"
    by_mem = int(p["free_bytes"] * 0.85 // (p["peak_bytes"] + CUDA_CONTEXT_BYTES))
    by_cpu = max(1, n_cores - 1)
    step_ms = p["step_s"] * 1000
    by_launch = MAX_JOBS if step_ms < 20 else 8 if step_ms < 100 else 2
    n = max(1, min(runs, by_mem, by_cpu, by_launch))
    return n, (f"cuda: memory for {by_mem} (peak {p['peak_bytes'] / 2 ** 20:.0f} MiB, free "
               f"{p['free_bytes'] / 2 ** 30:.1f} GiB), {n_cores} cores, step {step_ms:.1f} ms -> at most {by_launch}")


def choose_jobs(jobs, settings) -> int:
    """``--jobs auto``: probe the first run and size N (printed, and kept in ``settings.probe``)."""
    if len(jobs) <= 1:
        return 1
    p = probe(jobs, settings)
    n, why = jobs_for(p, len(jobs), cores())
    settings.probe = {"auto": why, "probe": p}
    print(f"--jobs auto: {n} at once ({why})", flush=True)
    return n
