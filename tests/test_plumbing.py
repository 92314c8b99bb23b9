"""The plumbing around the numbers: resume state, thresholds at their edges, estimators at small n."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from toy_models import NoisyGaussian

from dgmbench.data import DataSplit
from dgmbench.metrics import MetricContext
from dgmbench.metrics.frechet import kernel_inception_distance, mean_cov, precision_recall
from dgmbench.metrics.latent import active_units
from dgmbench.model import Model
from dgmbench.specs import Budget, DatasetSpec
from dgmbench.training import Hooks, TrainingRun, fit, load_checkpoint

SPEC = DatasetSpec("vectors", load="x:y", shape=(4,), levels=None)


class Stop(Exception):
    pass


def _train(tmp, resume_after=None):
    torch.manual_seed(0)
    model = NoisyGaussian()
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1)) * 2 + 1  # 50: not a multiple of 16
    budget = Budget("t", epochs=4, batch_size=16, lr=0.05)
    ck = tmp / "checkpoint.pt"

    def interrupt(epoch, logs):
        if epoch == resume_after:
            raise KeyboardInterrupt

    try:
        fit(model, DataSplit(x), TrainingRun(SPEC, budget, seed=3, checkpoint=ck),
            Hooks(epoch_end=interrupt if resume_after else None, progress=False))
    except KeyboardInterrupt:
        torch.manual_seed(12345)  # whatever the process did next must not matter
        model = NoisyGaussian()
        fit(model, DataSplit(x), TrainingRun(SPEC, budget, seed=3, checkpoint=ck, resume=True), Hooks(progress=False))
    return model, load_checkpoint(ck)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return a == b


@pytest.mark.parametrize("after", [1, 3])
def test_an_interrupted_and_resumed_run_ends_bit_identical(tmp_path, after):
    whole, ck_whole = _train(tmp_path / "whole")
    resumed, ck_resumed = _train(tmp_path / "resumed", resume_after=after)
    assert _same(whole.state_dict(), resumed.state_dict())
    assert _same(ck_whole["optimizers"], ck_resumed["optimizers"])  # Adam's step count and both moments
    assert ck_whole["optimizers"][0]["state"][0]["step"] == 16  # 4 epochs x 4 steps: the last partial batch counts
    assert ck_whole["step"] == ck_resumed["step"]


class FixedMeans(Model):
    """encode(x) returns x itself: the posterior means are the data, so Cov_x(E[u|x]) is known."""

    likelihood = "none"

    def encode(self, x):
        return [x]


@pytest.mark.parametrize("threshold, expected", [(0.01, 2), (0.005, 3), (0.0089, 3), (0.03, 1), (0.5, 0)])
def test_active_units_at_the_threshold_edges(threshold, expected):
    """Unit variances 0.009, 0.02 and 0.25 (population covariance over x = +-s): the 0.009 unit lies
    between two plausible thresholds (0.005, 0.01) and is counted by one only; a unit exactly at the
    threshold (0.25 = 0.5^2, exact in float) is not active."""
    s = torch.tensor([0.009, 0.02, 0.25]).double().sqrt()
    x = torch.cat([s.repeat(10, 1), -s.repeat(10, 1)])
    ctx = MetricContext(model=FixedMeans(), dataset=DatasetSpec("v", "x:y", (3,), levels=None), test=DataSplit(x),
                        device=torch.device("cpu"), options={"au_threshold": threshold}, batch_size=7)
    assert active_units(ctx)["active_units"] == expected
    at_edge = MetricContext(model=FixedMeans(), dataset=ctx.dataset, test=DataSplit(x), device=ctx.device,
                            options={"au_threshold": 0.25}, batch_size=7)
    assert active_units(at_edge)["active_units"] == 0  # strictly greater than


@pytest.mark.parametrize("n", [2, 3, 5])
def test_covariance_at_small_n_matches_numpy(n):
    f = np.random.default_rng(n).standard_normal((n, 3))
    mu, cov = mean_cov(f)
    np.testing.assert_allclose(mu, f.mean(0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(cov, np.cov(f, rowvar=False, ddof=1), rtol=1e-13, atol=1e-15)  # unbiased, n - 1
    if n == 2:
        d = f[0] - f[1]
        np.testing.assert_allclose(cov, np.outer(d, d) / 2, rtol=1e-13)
    with pytest.raises(ValueError):
        mean_cov(f[:1])


@pytest.mark.parametrize("m", [2, 3, 6])
def test_kid_at_small_n_is_the_unbiased_mmd(m):
    """With subsets as large as the sets, every subset is the whole set (in some order) and KID is
    the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, computed here directly."""
    rng = np.random.default_rng(m)
    x, y = rng.standard_normal((m, 4)), rng.standard_normal((m, 4)) + 0.5
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    mean, std = kernel_inception_distance(x, y, num_subsets=3, subset_size=m)
    assert mean == pytest.approx(expected, rel=1e-12) and std == pytest.approx(0, abs=1e-12)


def test_precision_recall_at_the_radius_edge():
    """Improved precision (Kynkaanniemi et al. 2019): a fake point counts when it lies within the
    k-NN radius of some real point, the boundary included; checked against scipy distances."""
    real = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    radii = np.sort(cdist(real, real), 1)[:, 1]  # k = 1: the nearest other point
    inside = real[0] + np.array([radii[0], 0.0])  # exactly on real[0]'s radius
    outside = np.array([20.0, 20.0])
    fake = np.stack([inside, outside])
    precision, _ = precision_recall(real, fake, k=1)
    assert precision == pytest.approx(0.5)
