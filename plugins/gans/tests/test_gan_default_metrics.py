"""A GAN run with no --metric and no protocol reports a sample metric: mode coverage where the
modes are known, FID on other image datasets; --metric still wins."""
import pytest

from dgmbench.plan import metrics_for
from dgmbench.runner import execute
from dgmbench.specs import RunRecord


@pytest.mark.parametrize("dataset,expected", [("toy2d-ring8", ["mode_coverage"]), ("toy2d-grid25", ["mode_coverage"]),
                                              ("stacked-mnist", ["mode_coverage"]), ("mnist", ["fid"]),
                                              ("cifar10", ["fid"])])
def test_default_metric_per_dataset(registry, dataset, expected):
    for model in ("gan", "wgan-gp", "infogan"):
        record = RunRecord(model=model, dataset=dataset)
        assert [m.name for m in metrics_for(registry, record, registry.model_for(model), None)] == expected
    named = RunRecord(model="gan", dataset=dataset, metrics=["kid"])
    assert [m.name for m in metrics_for(registry, named, registry.model_for("gan"), None)] == ["kid"]


def test_a_plain_gan_run_reports_mode_coverage(tmp_path):
    record = RunRecord(model="nsgan", dataset="toy2d-ring8", budget="smoke", device="cpu",
                       options={"mode_samples": 400}, overrides={"max_steps": 20})
    out = execute(record, results=tmp_path / "r.sqlite", out_root=tmp_path / "runs", progress=False)
    assert out.status == "ok", out.error
    assert 0 <= out.metrics["modes"] <= 8 and "modes_kl" in out.metrics
