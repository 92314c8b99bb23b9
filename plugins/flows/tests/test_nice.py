"""NICE: invertibility, volume preservation of the couplings, exact log-det, normalized 2-D density."""

import pytest
import torch
from dgmbench_flows.layers import standard_logistic_log_prob
from dgmbench_flows.models.nice import build
from flow_helpers import brute_force_logdet, grid_mass, randomize

from dgmbench.specs import DatasetSpec

TINY = DatasetSpec("tiny", "x:y", (1, 4, 4), levels=256)
TOY = DatasetSpec("toy2d", "x:y", (2,), levels=None)


@pytest.mark.parametrize("preprocess", ["none", "logit"])
def test_inverse_and_logdet(preprocess):
    m = randomize(build(TINY, {"preprocess": preprocess, "hidden": 16}).double(), 0.1)
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 0.9 + 0.05
    z, logdet = m.flow(x)
    assert z.shape == (3, 16)
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-8, rtol=1e-8)


def test_couplings_preserve_volume_so_logdet_is_the_scaling():
    m = randomize(build(TINY, {"hidden": 16, "preprocess": "none"}).double(), 0.1)
    x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    _, logdet = m.flow(x)
    scale = m.flow.layers[-1].log_scale.sum()
    torch.testing.assert_close(logdet, scale.expand(2))


def test_logistic_prior_is_normalized():
    t = torch.linspace(-40, 40, 200001, dtype=torch.float64)[:, None]
    assert float(torch.exp(standard_logistic_log_prob(t)).sum() * (t[1] - t[0])) == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("prior", ["gaussian", "logistic"])
def test_2d_density_integrates_to_one(prior):
    m = randomize(build(TOY, {"prior": prior, "hidden": 16}).double(), 0.2)
    assert grid_mass(m.log_prob, -15, 15, 500) == pytest.approx(1.0, abs=1e-2)


def test_sample_shapes():
    assert build(TINY, {"hidden": 16}).sample(5).shape == (5, 1, 4, 4)
    s = build(TOY, {"prior": "logistic"}).sample(6)
    assert s.shape == (6, 2) and torch.isfinite(s).all()


def test_paper_sizes_by_dimension():
    mnist = build(DatasetSpec("mnist", "x:y", (1, 28, 28), levels=256), {}).config
    assert (mnist["couplings"], mnist["hidden"], mnist["layers"], mnist["prior"]) == (4, 1000, 5, "logistic")
    cifar = build(DatasetSpec("cifar10", "x:y", (3, 32, 32), levels=256), {}).config
    assert (cifar["hidden"], cifar["layers"]) == (2000, 4)
