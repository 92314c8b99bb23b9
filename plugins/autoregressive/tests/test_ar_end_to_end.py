"""A smoke run through the harness (and, for the newer models, the command line): train, sample, store a
finite bits/dim."""
import math
import subprocess
import sys

import pytest

from dgmbench.runner import execute
from dgmbench.specs import RunRecord


@pytest.mark.parametrize("model,config", [("pixelcnn", {}), ("gated-pixelcnn", {"conditional": True}),
                                          ("pixelcnnpp", {})])
def test_smoke_run_on_digits_stores_a_finite_bpd(tmp_path, model, config):
    out = execute(RunRecord(model=model, dataset="digits", budget="smoke", config=config, device="cpu"),
                  results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok"
    bpd = out.metrics["bpd"]
    assert math.isfinite(bpd) and 0 < bpd < 2 * math.log2(17), bpd  # below twice the uniform 4.09 bits
    assert out.metrics["nll_is_bound"] == 0.0
    assert (out.out_dir / "samples.png").exists()


@pytest.mark.parametrize("model", ["row-lstm", "diagonal-bilstm", "pixelsnail"])
def test_smoke_run_through_the_cli(tmp_path, model):
    r = subprocess.run([sys.executable, "-m", "dgmbench", "run", "--plugin", model, "--dataset", "digits", "--budget",
                        "smoke", "--device", "cpu", "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path),
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    from dgmbench.store import Store

    values = dict(zip(*Store(tmp_path / "r.sqlite").metrics()[["name", "value"]].T.values))
    assert values["nll_is_bound"] == 0.0 and 0 < values["bpd"] < 2 * math.log2(17), values
    assert list(tmp_path.rglob("samples.png"))
