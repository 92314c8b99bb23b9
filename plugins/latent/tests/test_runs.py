"""Whole runs through the harness: the posterior-collapse claim and smoke runs on binarized MNIST."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from dgmbench.runner import execute
from dgmbench.specs import RunRecord

SHARED_DATA = Path(os.environ.get("DGMBENCH_TEST_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))


def collapse_run(kind: str, tmp_path: Path) -> dict:
    """The protocol's cell, trained for 600 steps on 5,000 points (seconds on a CPU)."""
    overrides = {"max_steps": 600, "epochs": 100, "batch_size": 100, "lr": 3e-3,
                 "max_train_examples": 5000, "max_test_examples": 500}
    record = RunRecord(model="vae", dataset=f"gaussian-{kind}", protocol="posterior-collapse", cell=f"vae-{kind}",
                       budget="smoke", device="cpu", overrides=overrides)
    out = execute(record, results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok"
    return out.metrics


def test_posterior_collapse_claim(tmp_path):
    """Sigma diagonal: the decoder alone fits the data, the KL term drives q(z|x) to the prior
    (0 active units, KL ~ 0). Sigma not diagonal: the correlation needs z (active units, KL > 0.5)."""
    diag, full = collapse_run("diag", tmp_path), collapse_run("full", tmp_path)
    assert diag["active_units"] == 0 and diag["avg_kl"] < 0.1 and diag["mutual_info"] < 0.1
    assert full["active_units"] >= 1 and full["avg_kl"] > 0.5 and full["mutual_info"] > 0.5
    # both fit the data about as well as the true density (2.16 and 1.33 nats)
    assert diag["nll"] == pytest.approx(2.158, abs=0.15) and full["nll"] == pytest.approx(1.328, abs=0.3)


@pytest.mark.parametrize("model,config", [("vae", {"layers": 1, "k": 1}), ("iwae", {"layers": 2, "k": 5})])
def test_smoke_run_on_binarized_mnist(model, config, tmp_path):
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    record = RunRecord(model=model, dataset="mnist-binary", budget="smoke", config=config, device="cpu",
                       data_root=str(SHARED_DATA), metrics=["nll", "active_units"], overrides={"max_test_examples": 64})
    out = execute(record, results=tmp_path / "r.sqlite", progress=False)
    m = out.metrics
    assert out.status == "ok" and m["nll_k"] == 16
    assert math.isfinite(m["nll"]) and 100 < m["nll"] < 600 and m["nll_elbo"] >= m["nll"] - 1.0
    layers = config["layers"]
    assert m["active_units"] == sum(m[f"active_units_layer{i}"] for i in range(1, layers + 1))
    assert 0 <= m["active_units_layer1"] <= (50 if layers == 1 else 100)
    for name in ("samples.png", "curves.png", "reconstructions.png", "checkpoint.pt"):
        assert (out.out_dir / name).is_file(), name
