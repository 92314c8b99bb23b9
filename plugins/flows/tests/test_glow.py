"""Glow: invertibility and exact log-det (images and 2-D), a normalized 2-D density, sampling, and
a checkpoint round trip that keeps the actnorm's data-dependent init."""
import pytest
import torch
from dgmbench_flows.layers import ActNorm
from dgmbench_flows.models.glow import build
from flow_helpers import brute_force_logdet, grid_mass, randomize

from dgmbench.specs import DatasetSpec

TINY = DatasetSpec("tiny", "x:y", (1, 4, 4), levels=256)
TOY = DatasetSpec("toy2d", "x:y", (2,), levels=None)


def _init_actnorm(m, shape):
    m.train()
    m.log_prob(torch.rand(16, *shape, dtype=torch.float64))
    m.eval()
    return m


@pytest.mark.parametrize("preprocess", ["shift", "logit"])
def test_multiscale_inverse_and_logdet(preprocess):
    m = randomize(build(TINY, {"levels": 2, "steps": 2, "channels": 8, "preprocess": preprocess}).double(), 0.05)
    _init_actnorm(m, (1, 4, 4))
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 0.9 + 0.05
    z, logdet = m.flow(x)
    assert z.shape == x.shape
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-7, rtol=1e-7)


def test_2d_inverse_logdet_and_density_integrates_to_one():
    m = randomize(build(TOY, {"steps": 3, "hidden": 16}).double(), 0.2)
    _init_actnorm(m, (2,))
    x = torch.randn(4, 2, dtype=torch.float64)
    z, logdet = m.flow(x)
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-8, rtol=1e-8)
    assert grid_mass(m.log_prob, -8, 8, 500) == pytest.approx(1.0, abs=1e-2)


def test_actnorm_init_survives_a_checkpoint_round_trip(tmp_path):
    ds = DatasetSpec("digits", "x:y", (1, 8, 8), levels=17)
    torch.manual_seed(0)
    m = build(ds, {"steps": 2, "channels": 16})
    m.train()
    m.log_prob(torch.rand(32, 1, 8, 8) * 0.5 + 0.25)  # first batch: data-dependent init
    m.eval()
    assert all(bool(a.initialized) for a in m.modules() if isinstance(a, ActNorm))
    x = torch.rand(5, 1, 8, 8)
    before = m.log_prob(x)
    torch.save(m.state_dict(), tmp_path / "glow.pt")
    torch.manual_seed(123)  # a different random 1x1-conv init in the fresh model
    fresh = build(ds, {"steps": 2, "channels": 16})
    fresh.load_state_dict(torch.load(tmp_path / "glow.pt", weights_only=True))
    fresh.train()  # would re-initialize actnorm if the flag had been lost
    fresh.log_prob(torch.rand(32, 1, 8, 8))
    fresh.eval()
    assert torch.equal(fresh.log_prob(x), before)


def test_image_sample_shape_and_range():
    ds = DatasetSpec("cifar-ish", "x:y", (3, 8, 8), levels=256)
    s = build(ds, {"levels": 2, "steps": 1, "channels": 8}).sample(4)
    assert s.shape == (4, 3, 8, 8) and torch.isfinite(s).all() and 0 <= s.min() and s.max() <= 1


def test_cifar_default_is_the_papers_shape():
    cfg = build(DatasetSpec("cifar10", "x:y", (3, 32, 32), levels=256), {"channels": 8}).config
    assert (cfg["levels"], cfg["steps"]) == (3, 32)
