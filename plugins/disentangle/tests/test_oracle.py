"""Locatello et al.'s construction: the rotated oracle keeps the oracle's marginals (KS) and loses
its scores; A is orthogonal with no zero entry."""
import numpy as np
import torch
from dgmbench_disentangle.oracle import factor_code, rotate, rotation_without_zeros
from scipy.stats import ks_2samp, kstest

from dgmbench.metrics import disentanglement as dis


class Grid:
    factor_names = ("a", "b", "c", "d", "e")
    factor_sizes = (3, 6, 10, 8, 8)

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, k, n) for k in self.factor_sizes], 1)

    def images_for_factors(self, factors, rng=None):
        return torch.as_tensor(factors)


def test_rotation_is_orthogonal_without_zero_entries():
    a = rotation_without_zeros(5, seed=3)
    assert np.allclose(a @ a.T, np.eye(5)) and np.abs(a).min() >= 0.05


def test_rotated_oracle_keeps_marginals_and_loses_scores():
    truth, a = Grid(), rotation_without_zeros(5)
    jitter = np.random.default_rng(7)
    oracle = lambda x: factor_code(x.numpy(), truth.factor_sizes, jitter)  # noqa: E731
    rotated = lambda x: rotate(oracle(x), a)  # noqa: E731
    f = truth.sample_factors(5000, np.random.default_rng(0))
    z, fz = oracle(torch.as_tensor(f)), rotated(torch.as_tensor(f))
    for j in range(5):
        assert kstest(z[:, j], "uniform").pvalue > 0.001 and kstest(fz[:, j], "uniform").pvalue > 0.001
        assert ks_2samp(z[:, j], fz[:, j]).pvalue > 0.001
    assert np.abs(np.corrcoef(fz.T) - np.eye(5)).max() < 0.06  # still (nearly) uncorrelated
    kw = dict(batch=32, train=300, evaluate=200)
    s = {name: {**dis.betavae_score(rep, truth, np.random.default_rng(1), **kw),
                **dis.factorvae_score(rep, truth, np.random.default_rng(1), variance_points=2000, **kw),
                **dis.mig(rep, truth, np.random.default_rng(1), points=3000)}
         for name, rep in (("oracle", oracle), ("rotated", rotated))}
    assert s["oracle"]["betavae_score"] == 1.0 and s["oracle"]["factorvae_score"] > 0.95
    assert s["oracle"]["mig"] > 0.8 and s["rotated"]["mig"] < 0.25
    assert s["rotated"]["betavae_score"] < 0.9 and s["rotated"]["factorvae_score"] < 0.9
