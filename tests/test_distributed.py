"""``torchrun --nproc_per_node 2 -m dgmbench run|eval`` on gloo: two processes x half the batch take
the same steps as one process x the whole batch, evaluation of the same weights gives the same
NLL, and only rank 0 writes."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
import torch
from harness_helpers import make_plugin
from plugin_sources import SCALE

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

RUN = ["run", "--plugin", "sdiag", "--dataset", "digits", "--budget", "smoke", "--max-steps", "4",
       "--batch-size", "64", "--device", "cpu", "--no-progress", "--grid-samples", "0"]


def dgmbench(*args, nproc: int = 1, env=None) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    cmd = [*(launcher if nproc > 1 else [sys.executable]), "-m", "dgmbench", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                       env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def nll_of(results) -> float:
    con = sqlite3.connect(results)
    try:
        rows = con.execute("SELECT value FROM metrics WHERE name = 'nll'").fetchall()
        assert len(con.execute("SELECT * FROM runs").fetchall()) == 1  # one run row: rank 0's
    finally:
        con.close()
    (value,) = rows
    return value[0]


def checkpoint(out) -> dict:
    (path,) = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files if f == "checkpoint.pt"]
    return torch.load(path, map_location="cpu", weights_only=True)


def test_two_processes_half_batch_match_one_process_and_score_the_same(plugin_path, tmp_path):
    make_plugin(plugin_path, "scaleplug", SCALE)
    log1, log2 = tmp_path / "batches1.txt", tmp_path / "batches2.txt"
    dgmbench(*RUN, "--results", tmp_path / "r1.sqlite", "--out", tmp_path / "o1", env={"TEST_BATCH_LOG": log1})
    r2 = dgmbench(*RUN, "--results", tmp_path / "r2.sqlite", "--out", tmp_path / "o2", nproc=2,
                  env={"TEST_BATCH_LOG": log2})
    assert r2.stdout.count("stored;") == 1  # rank 0 alone prints and stores

    # each process trained on its own half of every global batch of 64
    steps = lambda log: [f for f in (line.split() for line in log.read_text().splitlines()) if f[1] != "eval"]
    one = {int(s): (int(n), float(t)) for _, s, n, t in steps(log1)}
    two = steps(log2)
    assert len(one) == 4 and all(n == 64 for n, _ in one.values())
    assert sorted({(int(r), int(s)) for r, s, _, _ in two}) == [(r, s) for r in (0, 1) for s in range(4)]
    assert all(int(n) == 32 for _, _, n, _ in two)
    for s, (_, total) in one.items():  # the halves are the two halves of the same batch
        halves = [float(t) for r, st, _, t in two if int(st) == s]
        assert halves[0] != pytest.approx(halves[1]) and sum(halves) == pytest.approx(total, rel=1e-6)

    # ... and took the same 4 Adam steps as one process with the whole batch
    a, b = checkpoint(tmp_path / "o1"), checkpoint(tmp_path / "o2")
    assert a["step"] == b["step"] == 4
    for name in a["model"]:
        torch.testing.assert_close(b["model"][name], a["model"][name], atol=1e-4, rtol=0)
    assert not torch.equal(a["model"]["mu"], torch.zeros_like(a["model"]["mu"]))  # it did train

    # the same weights scored by two processes (each its half of every test batch, the same
    # dequantization noise) give one process's NLL
    ck = next((tmp_path / "o1").rglob("checkpoint.pt"))
    log3 = tmp_path / "batches3.txt"
    dgmbench("eval", "--checkpoint", ck, "--device", "cpu", "--results", tmp_path / "r3.sqlite", nproc=2,
             env={"TEST_BATCH_LOG": log3})
    assert nll_of(tmp_path / "r3.sqlite") == pytest.approx(nll_of(tmp_path / "r1.sqlite"), abs=1e-5, rel=0)
    scored = [line.split() for line in log3.read_text().splitlines() if line.split()[1] == "eval"]
    per_rank = {r: sum(int(n) for rr, _, n, _ in scored if rr == r) for r in ("0", "1")}
    assert per_rank == {"0": 64, "1": 64}  # the smoke budget's 128 test examples, half on each process


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torchrun_on_cuda_with_nccl_matches_one_process(plugin_path, tmp_path):
    """NCCL: up to two GPUs (one GPU: a group of one, every collective still runs on the device)."""
    make_plugin(plugin_path, "scaleplug", SCALE)
    nproc = min(2, torch.cuda.device_count())
    cuda = [a if a != "cpu" else "cuda" for a in RUN]
    dgmbench(*cuda, "--results", tmp_path / "r1.sqlite", "--out", tmp_path / "o1")
    dgmbench(*cuda, "--results", tmp_path / "r2.sqlite", "--out", tmp_path / "o2", nproc=nproc)
    a, b = checkpoint(tmp_path / "o1"), checkpoint(tmp_path / "o2")
    for name in a["model"]:
        torch.testing.assert_close(b["model"][name], a["model"][name], atol=1e-4, rtol=0)
    assert nll_of(tmp_path / "r2.sqlite") == pytest.approx(nll_of(tmp_path / "r1.sqlite"), rel=1e-6)
