"""Likelihood metrics against closed forms."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from dgmbench.data import DataSplit, dequantize
from dgmbench.metrics import TEST_DRAW_SEED, MetricContext
from dgmbench.metrics.likelihood import bits_per_dim, nll
from dgmbench.specs import DatasetSpec


def _ctx(model, x, levels=256, shape=None):
    spec = DatasetSpec("synthetic", load=lambda *a, **k: None, shape=shape or tuple(x.shape[1:]), levels=levels)
    return MetricContext(model=model, dataset=spec, test=DataSplit(x), device=torch.device("cpu"), batch_size=50)


def _uniform(shape):
    from dgmbench_baselines.models import Uniform

    return Uniform(shape)


def test_uniform_on_8bit_data_is_exactly_8_bits_per_dim():
    x = torch.randint(0, 256, (100, 3, 4, 4)).float() / 255
    out = nll(_ctx(_uniform((3, 4, 4)), x))
    assert out["bpd"] == pytest.approx(8.0, abs=1e-12)
    assert out["nll"] == pytest.approx(48 * math.log(256), abs=1e-9)
    assert out["nll_is_bound"] == 0.0


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_uniform_bits_per_dim_is_log2_levels(levels):
    x = torch.randint(0, levels, (20, 1, 3, 3)).float() / (levels - 1)
    assert nll(_ctx(_uniform((1, 3, 3)), x, levels))["bpd"] == pytest.approx(math.log2(levels), abs=1e-12)


def test_dequantize_stays_in_the_bin_of_its_level():
    levels = 17
    k = torch.randint(0, levels, (1000,))
    y = dequantize(k.float() / (levels - 1), levels)
    assert torch.equal(torch.floor(y * levels).long(), k)
    assert dequantize(torch.tensor([0.3]), None).item() == pytest.approx(0.3)


def test_gaussian_baseline_matches_closed_form_log_likelihood():
    from dgmbench_baselines.models import Gaussian

    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    data = rng.multivariate_normal(np.arange(5.0), a @ a.T + np.eye(5), size=400)
    model = Gaussian((5,), {"jitter": 0.0})
    model.fit(torch.tensor(data))  # one call on the whole split (Model.fit); a second call starts afresh
    mean, cov = data.mean(0), np.cov(data, rowvar=False, bias=True)  # the ML estimates
    test = rng.multivariate_normal(np.zeros(5), np.eye(5), size=50)
    ours = model.log_prob(torch.tensor(test)).numpy()
    np.testing.assert_allclose(ours, multivariate_normal(mean, cov).logpdf(test), rtol=1e-9, atol=1e-9)


def test_continuous_models_pay_the_dequantization_term():
    """Same density on [0,1]^D: bits/dim = (-log p(y) + D log L) / (D ln 2)."""
    from dgmbench_baselines.models import Gaussian

    model = Gaussian((4,), {})
    model.fit(torch.rand(500, 4))
    x = torch.randint(0, 256, (64, 4)).float() / 255
    ctx = _ctx(model, x, levels=256)
    out = nll(ctx)
    g = torch.Generator().manual_seed(TEST_DRAW_SEED)  # the test draw's fixed seed, batch by batch (50, then 14)
    y = torch.cat([dequantize(part, 256, g) for part in x.split(50)])
    expected = -model.log_prob(y).double().mean().item() + 4 * math.log(256)
    assert out["nll"] == pytest.approx(expected, rel=1e-9)
    assert out["bpd"] == pytest.approx(bits_per_dim(expected, 4))


def test_refuses_a_metric_the_model_cannot_support():
    from dgmbench.errors import UnsupportedMetric
    from dgmbench.plugins import load_registry
    from dgmbench.runner import check_metrics
    from dgmbench.specs import ModelSpec

    reg = load_registry()
    spec = ModelSpec("gan-like", "x:y", capabilities=["sample"])
    with pytest.raises(UnsupportedMetric, match="metric 'nll' needs log_prob or iw_bound or elbo"):
        check_metrics(reg, ["nll"], spec)
