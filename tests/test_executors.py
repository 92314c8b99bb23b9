"""``dgmbench reproduce --executor ray|slurm``: a sweep on a local Ray cluster and through submitit's
local executor lands in the one results store, once per cell; a killed worker's run is retried."""
from __future__ import annotations

import importlib
import math
import os
import sqlite3
import sys

import pytest
from harness_helpers import make_plugin
from plugin_sources import SCALE

SMOKE = ["--budget", "smoke", "--no-progress", "--grid-samples", "4"]


@pytest.fixture(scope="module")
def scale_env(tmp_path_factory):
    """The test plugin on sys.path and PYTHONPATH (engine workers inherit it), a folder for the
    kill markers and a cache folder; restored afterwards."""
    root = tmp_path_factory.mktemp("scale")
    site = make_plugin(root / "site", "scaleplug", SCALE)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "TEST_KILL_ONCE_DIR", "DGMBENCH_CACHE")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), saved["PYTHONPATH"]]))
    os.environ["TEST_KILL_ONCE_DIR"] = str(root / "markers")
    os.environ["DGMBENCH_CACHE"] = str(root / "cache")  # Ray's workers keep the environment they start with
    (root / "markers").mkdir()
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(site))
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def ray_cluster(scale_env):
    """One local Ray cluster (2 CPUs) for the module; the CLI joins it instead of starting its own."""
    ray = pytest.importorskip("ray")
    # no memory monitor: on a busy CI box it kills workers for the other processes' memory
    os.environ["RAY_memory_monitor_refresh_ms"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
    os.environ.pop("RAY_memory_monitor_refresh_ms", None)


def reproduce(*args) -> int:
    from dgmbench.cli import main

    return main(["reproduce", "scale-smoke", *SMOKE, *map(str, args)])


def stored(results):
    con = sqlite3.connect(results)
    try:
        runs = con.execute("SELECT run_id, cell, status, error, out_dir, checkpoint FROM runs").fetchall()
        metrics = con.execute("SELECT run_id, name, value FROM metrics").fetchall()
        history = con.execute("SELECT run_id, COUNT(*) FROM history GROUP BY run_id").fetchall()
    finally:
        con.close()
    return runs, metrics, dict(history)


def check_ok_rows(results, cells):
    """Exactly one ok row per cell, each with its NLL and bits/dim (bpd = nll / (64 ln 2) on
    8x8 digits), its sample grid in the driver's run folder and its checkpoint where the row says."""
    runs, metrics, history = stored(results)
    assert sorted(r[1] for r in runs) == sorted(cells), runs
    assert all(r[2] == "ok" for r in runs), runs
    for run_id, _cell, _status, _error, out_dir, checkpoint in runs:
        values = {name: v for rid, name, v in metrics if rid == run_id}
        assert math.isfinite(values["nll"]) and values["nll"] > 0
        assert values["bpd"] == pytest.approx(values["nll"] / (64 * math.log(2)), rel=1e-9)
        assert sum(1 for rid, name, _ in metrics if rid == run_id and name == "nll") == 1  # not written twice
        assert os.path.isfile(os.path.join(out_dir, "samples.png")) and os.path.isfile(checkpoint)
        assert history.get(run_id, 0) >= 5  # the training curve came home too (a loss per step)
    return runs


def test_ray_sweep_into_one_store(ray_cluster, tmp_path, capsys):
    results = tmp_path / "r.sqlite"
    ck = tmp_path / "worker-runs"
    assert reproduce("--executor", "ray", "--results", results, "--checkpoint-dir", ck) == 0
    runs = check_ok_rows(results, ["c0", "c1", "c2", "c3"])
    assert all(r[5].startswith(str(ck)) for r in runs)  # checkpoints where the user said, named in the row
    assert "scale-smoke" in capsys.readouterr().out  # the leaderboard was printed
    # the same command again: every cell is measured, nothing runs and nothing is added
    assert reproduce("--executor", "ray", "--results", results, "--checkpoint-dir", ck) == 0
    assert capsys.readouterr().out.count("already in the results file") == 4
    assert len(stored(results)[0]) == 4


def test_ray_killed_worker_is_retried(ray_cluster, scale_env, tmp_path, capsys):
    results = tmp_path / "r.sqlite"
    marker = scale_env / "markers" / "1"
    marker.unlink(missing_ok=True)
    assert reproduce("--executor", "ray", "--cells", "c1", "--results", results) == 0
    assert marker.exists()  # cell c1's first worker really killed itself
    err = capsys.readouterr().err
    assert "c1" in err and "running it again" in err
    check_ok_rows(results, ["c1"])  # one ok row, the lost attempt left none


def test_ray_lost_twice_is_stored_failed(ray_cluster, scale_env, tmp_path, capsys):
    results = tmp_path / "r.sqlite"
    (scale_env / "markers" / "1").unlink(missing_ok=True)
    assert reproduce("--executor", "ray", "--cells", "c1", "--results", results, "--retries", "0") == 1
    (run,), metrics, _ = stored(results)
    assert run[1] == "c1" and run[2] == "failed" and "worker was lost" in run[3] and not metrics
    assert "stored as failed" in capsys.readouterr().err


def test_submitit_local_sweep(scale_env, tmp_path):
    pytest.importorskip("submitit")
    results = tmp_path / "r.sqlite"
    assert reproduce("--executor", "slurm", "--slurm-cluster", "local", "--cells", "c0", "c2",
                     "--results", results, "--slurm-folder", tmp_path / "jobs") == 0
    runs = check_ok_rows(results, ["c0", "c2"])
    assert all(r[5].startswith(os.environ["DGMBENCH_CACHE"]) for r in runs)  # the worker's default folder


def test_rerun_resumes_a_truncated_cell_from_its_checkpoint(scale_env, tmp_path, monkeypatch, capsys):
    log = tmp_path / "steps.txt"
    monkeypatch.setenv("TEST_BATCH_LOG", str(log))
    results = tmp_path / "r.sqlite"
    # the safety cap stops the run after its first step: stored truncated, its checkpoint kept
    assert reproduce("--cells", "c0", "--results", results, "--max-seconds", "1e-9") == 0
    assert [r[2] for r in stored(results)[0]] == ["truncated"]
    # the same command without the cap trains on from step 1 to the budget's 5 steps
    assert reproduce("--cells", "c0", "--results", results) == 0
    assert "resume c0 / seed 0: truncated earlier" in capsys.readouterr().out
    steps = [int(line.split()[1]) for line in log.read_text().splitlines() if line.split()[1] != "eval"]
    assert steps == [0, 1, 2, 3, 4]  # step 0 once (the truncated run), then 1..4 (resumed, not restarted)
    assert sorted(r[2] for r in stored(results)[0]) == ["ok", "truncated"]


def metrics_by_cell(results):
    runs, metrics, _ = stored(results)
    cell = {r[0]: r[1] for r in runs}
    out = {}
    for run_id, name, value in metrics:
        out.setdefault(cell[run_id], {})[name] = value
    return out


def test_jobs_packs_cells_in_worker_processes_with_the_same_metrics(scale_env, tmp_path, capsys):
    """--jobs 2: four cells in worker processes, two at a time, each stored once as ok; cell c1's
    first worker kills itself (SIGKILL) and its cell is run again; every value equals a one-at-a-time
    sweep's, bitwise; the same command again runs nothing."""
    marker = scale_env / "markers" / "1"
    marker.unlink(missing_ok=True)
    packed, serial = tmp_path / "packed.sqlite", tmp_path / "serial.sqlite"
    assert reproduce("--jobs", "2", "--results", packed) == 0
    out, err = capsys.readouterr()
    assert "packing 2 runs at once" in out and marker.exists()
    assert "c1" in err and "worker process died (killed by signal 9)" in err and "running it again" in err
    runs = check_ok_rows(packed, ["c0", "c1", "c2", "c3"])
    assert all(os.path.isfile(os.path.join(r[4], "worker.log")) for r in runs)
    assert reproduce("--results", serial) == 0  # in this process, one after another (c1's marker is spent)
    assert metrics_by_cell(packed) == metrics_by_cell(serial)
    capsys.readouterr()
    assert reproduce("--jobs", "2", "--results", packed) == 0
    assert capsys.readouterr().out.count("already in the results file") == 4
    assert len(stored(packed)[0]) == 4


def test_jobs_cut_off_keeps_finished_cells_and_a_rerun_does_the_rest(scale_env, tmp_path):
    """The driver of a packed sweep is stopped (SIGTERM) once its first cell is stored: the store
    holds only whole ok rows, no worker is left running, and the same command finishes the rest."""
    import subprocess
    import time

    results = tmp_path / "r.sqlite"
    (scale_env / "markers" / "1").write_text("spent")  # no self-kill in this test
    cmd = [sys.executable, "-m", "dgmbench", "reproduce", "scale-smoke", *SMOKE, "--jobs", "2",
           "--results", str(results)]
    driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    def any_row():
        try:
            return results.exists() and bool(stored(results)[0])
        except sqlite3.OperationalError:  # the file is there, its tables not yet
            return False

    while time.time() < deadline and driver.poll() is None and not any_row():
        time.sleep(0.1)
    driver.terminate()
    output = driver.communicate(timeout=60)[0]
    runs, _, _ = stored(results)
    assert 1 <= len(runs) <= 4 and all(r[2] == "ok" for r in runs), (runs, output)
    finished = {r[1] for r in runs}
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("already in the results file") == len(finished)
    check_ok_rows(results, ["c0", "c1", "c2", "c3"])


def test_jobs_auto_sizes_from_the_probe():
    from dgmbench.packing import jobs_for

    gib = 2 ** 30
    small = {"device": "cuda", "peak_bytes": gib // 2, "free_bytes": 130 * gib, "step_s": 0.004}
    assert jobs_for(small, runs=48, n_cores=16)[0] == 15  # launch-bound: as many as the cores allow
    assert jobs_for(small, runs=6, n_cores=16)[0] == 6  # never more than the runs
    big = {**small, "peak_bytes": 40 * gib, "step_s": 0.05}
    assert jobs_for(big, runs=48, n_cores=16)[0] == 2  # memory: 0.85 * 130 GiB // 40.75 GiB
    slow = {**small, "step_s": 0.4}
    assert jobs_for(slow, runs=48, n_cores=16)[0] == 2  # one run already fills the GPU
    cpu = {"device": "cpu", "peak_bytes": gib, "free_bytes": 64 * gib, "step_s": 0.01}
    assert jobs_for(cpu, runs=48, n_cores=2)[0] == 2
    assert jobs_for({}, runs=48, n_cores=16)[0] == 1  # a failed probe: one at a time


@pytest.mark.parametrize("flags, says", [(["--jobs", "0"], "--jobs 0"), (["--jobs", "many"], "--jobs many"),
                                         (["--jobs", "2", "--executor", "ray"], "--max-parallel"),
                                         (["--jobs", "auto", "--executor", "slurm"], "--max-parallel")])
def test_jobs_bad_values_are_refused(scale_env, tmp_path, capsys, flags, says):
    results = tmp_path / "r.sqlite"
    assert reproduce(*flags, "--results", results) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and not results.exists()
