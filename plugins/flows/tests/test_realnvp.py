"""Real NVP: invertibility, exact log-determinants, a normalized 2-D density, sampling, all three
image shapes, and an end-to-end smoke run through the harness."""
import math

import pytest
import torch
from dgmbench_flows.models.realnvp import build, max_scales
from flow_helpers import brute_force_logdet, grid_mass, randomize

from dgmbench.specs import DatasetSpec

DIGITS = DatasetSpec("digits", "x:y", (1, 8, 8), levels=17)
TINY = DatasetSpec("tiny", "x:y", (1, 4, 4), levels=256)
TOY = DatasetSpec("toy2d", "x:y", (2,), levels=None)


def _model(ds, cfg=None, std=0.05):
    return randomize(build(ds, cfg or {}).double(), std)


def test_multiscale_image_flow_inverts_and_logdet_is_exact():
    m = _model(TINY, {"scales": 2, "channels": 8, "blocks": 1})
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    z, logdet = m.flow(x)
    assert z.shape == x.shape
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-7, rtol=1e-7)


def test_vector_flow_inverts_and_logdet_is_exact():
    m = _model(TOY, {"couplings": 4, "hidden": 16}, std=0.2)
    x = torch.randn(5, 2, dtype=torch.float64)
    z, logdet = m.flow(x)
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-8, rtol=1e-8)


def test_2d_density_integrates_to_one():
    m = _model(TOY, {"couplings": 4, "hidden": 16}, std=0.2)
    assert grid_mass(m.log_prob, -9, 9, 500) == pytest.approx(1.0, abs=1e-2)


def test_logit_transform_gives_a_density_around_the_unit_square():
    """With the logit preprocessing (data with levels) the density integrates to 1 over the
    preimage of (0, 1) under y -> alpha + (1 - 2 alpha) y, i.e. (-a, 1 + a) with a = alpha / (1 - 2 alpha),
    so its mass on [0, 1]^2 is at most 1 (the NLL on [0, 1]^D is then an upper bound)."""
    ds = DatasetSpec("unit2d", "x:y", (2,), levels=256)
    m = _model(ds, {"couplings": 4, "hidden": 16}, std=0.2)
    assert m.config["preprocess"] == "logit"
    a = 0.05 / 0.9
    assert grid_mass(m.log_prob, -a, 1 + a, 500) == pytest.approx(1.0, abs=1e-2)
    assert grid_mass(m.log_prob, 0, 1, 500) < 1.0


def test_untrained_logit_density_is_analytic():
    """With every coupling at the identity, p(y) = prod N(logit(x)) |dlogit/dy| (closed form)."""
    m = build(DIGITS, {}).double()
    y = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    x = 0.05 + 0.9 * y
    z = torch.log(x) - torch.log1p(-x)
    expect = (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi) + math.log(0.9) - torch.log(x) - torch.log1p(-x))
    torch.testing.assert_close(m.log_prob(y), expect.flatten(1).sum(1))


@pytest.mark.parametrize("shape,cfg", [((1, 8, 8), {}), ((1, 28, 28), {"channels": 8, "blocks": 1}),
                                       ((3, 32, 32), {"channels": 8, "blocks": 1})])
def test_image_shapes_log_prob_and_sample(shape, cfg):
    ds = DatasetSpec("img", "x:y", shape, levels=256)
    m = build(ds, cfg)
    assert m.config["scales"] >= 1 + (shape[1] > 8)  # multi-scale on the larger images
    lp = m.log_prob(torch.rand(2, *shape))
    assert lp.shape == (2,) and torch.isfinite(lp).all()
    s = m.sample(3)
    assert s.shape == (3, *shape) and torch.isfinite(s).all() and s.min() >= 0 and s.max() <= 1


def test_cifar_default_is_the_papers_shape():
    ds = DatasetSpec("cifar10", "x:y", (3, 32, 32), levels=256)
    cfg = build(ds, {}).config
    assert (cfg["scales"], cfg["blocks"], cfg["channels"]) == (2, 8, 64)
    assert max_scales((3, 32, 32)) == 5 and max_scales((1, 28, 28)) == 3


def test_vector_sample_shape():
    s = build(TOY, {}).sample(7)
    assert s.shape == (7, 2) and torch.isfinite(s).all()


def test_end_to_end_smoke_run_stores_a_finite_bpd(tmp_path):
    from dgmbench.runner import execute
    from dgmbench.specs import RunRecord

    out = execute(RunRecord(model="realnvp", dataset="digits", budget="smoke", device="cpu"),
                  results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok" and math.isfinite(out.metrics["bpd"])
    assert 0 < out.metrics["bpd"] < 8


def test_flows_train_in_float32_unless_bf16_is_asked_for():
    m = build(DIGITS, {"scales": 1, "final_couplings": 2, "channels": 8})
    opt = m.configure_optimizers(1e-3)

    def refuse():
        raise AssertionError("autocast used")

    logs = m.train_step(torch.rand(4, 1, 8, 8), None, opt, 0, refuse)
    assert torch.isfinite(logs["loss"])
    m.config["bf16"] = True
    with pytest.raises(AssertionError, match="autocast used"):
        m.train_step(torch.rand(4, 1, 8, 8), None, opt, 1, refuse)
