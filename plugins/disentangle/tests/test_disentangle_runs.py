"""Whole runs through the harness: a beta-VAE on dSprites with the three scores, the reconstruction
term and the traversal grid; the identifiability protocol's oracle cells."""
from __future__ import annotations

from PIL import Image

from dgmbench.runner import execute
from dgmbench.specs import RunRecord

TINY = {"betavae_batch": 8, "betavae_train": 40, "betavae_eval": 20, "factorvae_batch": 8,
        "factorvae_train": 40, "factorvae_eval": 20, "factorvae_variance_points": 300, "mig_points": 300}


def test_betavae_smoke_run_scores_and_draws_traversals(tmp_path):
    record = RunRecord(model="betavae", dataset="dsprites", protocol="disentanglement", cell="betavae-capacity",
                       budget="smoke", device="cpu", options=TINY,
                       overrides={"max_steps": 3, "max_test_examples": 64})
    out = execute(record, results=tmp_path / "r.sqlite", out_root=tmp_path / "runs", progress=False)
    assert out.status == "ok", out.error
    for key in ("betavae_score", "factorvae_score", "mig", "recon", "kl"):
        assert key in out.metrics
    assert 0 <= out.metrics["betavae_score"] <= 1 and out.metrics["recon"] > 0
    with Image.open(out.out_dir / "traversals.png") as im:  # 2 + 10 rows of 10 images of 64 px
        assert im.size[0] > 10 * 64 and im.size[1] > 12 * 64


def test_the_oracle_scores_high_and_its_rotation_low(tmp_path):
    scores = {}
    for cell in ("oracle", "oracle-rotated"):
        record = RunRecord(model="oracle", dataset="dsprites", protocol="identifiability", cell=cell,
                           budget="smoke", device="cpu", metrics=["mig", "code_marginals"],
                           options={"mig_points": 2000})
        out = execute(record, results=tmp_path / "r.sqlite", out_root=tmp_path / "runs", progress=False)
        assert out.status == "ok", out.error
        scores[cell] = out.metrics
    assert scores["oracle"]["mig"] > 0.7 and scores["oracle-rotated"]["mig"] < 0.2
    assert scores["oracle"]["marginals_match"] == 1.0 and scores["oracle-rotated"]["marginals_match"] == 1.0
