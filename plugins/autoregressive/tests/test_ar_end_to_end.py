"""A smoke run through the harness: train, sample, store a finite bits/dim."""
import math

import pytest

from dgmbench.runner import execute
from dgmbench.specs import RunRecord


@pytest.mark.parametrize("model,config", [("pixelcnn", {}), ("gated-pixelcnn", {"conditional": True}),
                                          ("pixelcnnpp", {}), ("row-lstm", {}), ("diagonal-bilstm", {}),
                                          ("pixelsnail", {})])
def test_smoke_run_on_digits_stores_a_finite_bpd(tmp_path, model, config):
    out = execute(RunRecord(model=model, dataset="digits", budget="smoke", config=config, device="cpu"),
                  results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok"
    bpd = out.metrics["bpd"]
    assert math.isfinite(bpd) and 0 < bpd < 2 * math.log2(17), bpd  # below twice the uniform 4.09 bits
    assert out.metrics["nll_is_bound"] == 0.0
    assert (out.out_dir / "samples.png").exists()
