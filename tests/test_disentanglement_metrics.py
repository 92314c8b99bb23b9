"""The disentanglement scores on known answers: an oracle (the factors themselves) scores 1, a
code independent of the data scores chance (1 / number of factors) and a MIG near 0, and
permuting or rescaling the oracle's dimensions changes nothing."""
import numpy as np
import pytest
import torch

from dgmbench.metrics import disentanglement as dis


class Grid:
    """A factor sampler whose "images" are the factor vectors (so any code of them is exact)."""

    factor_names = ("a", "b", "c", "d", "e")
    factor_sizes = (3, 6, 10, 8, 8)  # <= 20 values each: the 20-bin histogram of MIG is lossless

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, k, n) for k in self.factor_sizes], 1)

    def images_for_factors(self, factors, rng=None):
        return torch.as_tensor(factors, dtype=torch.float32)


ORACLE = lambda x: x.numpy()  # noqa: E731
SMALL = dict(batch=32, train=300, evaluate=200)


def scores(represent, seed=0):
    truth = Grid()
    rng = lambda: np.random.default_rng(seed)  # noqa: E731
    return {**dis.betavae_score(represent, truth, rng(), **SMALL),
            **dis.factorvae_score(represent, truth, rng(), variance_points=2000, **SMALL),
            **dis.mig(represent, truth, rng(), points=3000)}


def test_oracle_scores_one():
    s = scores(ORACLE)
    assert s["betavae_score"] == 1.0
    assert s["factorvae_score"] == 1.0
    assert s["mig"] > 0.99  # 1 less the plug-in bias of the second-best dimension's MI


def test_random_code_scores_chance():
    noise = np.random.default_rng(5)
    s = scores(lambda x: noise.standard_normal((len(x), 5)))
    assert 0.1 < s["betavae_score"] < 0.35  # chance: 1/5
    assert 0.1 < s["factorvae_score"] < 0.35
    assert s["mig"] < 0.02


def test_permuted_and_rescaled_oracle_scores_the_same():
    perm, gain = np.array([3, 0, 4, 1, 2]), np.array([2.0, 0.5, 7.0, 1.0, 3.0])
    a, b = scores(ORACLE), scores(lambda x: x.numpy()[:, perm] * gain)
    for key in ("betavae_score", "factorvae_score", "mig"):
        assert a[key] == pytest.approx(b[key], abs=1e-9), key


def test_mig_of_an_oracle_is_capped_by_the_bins():
    """With 40 values in 20 bins the best code keeps log 20 of log 40 nats."""
    class Forty(Grid):
        factor_sizes = (40,)
        factor_names = ("orientation",)

    m = dis.mig(ORACLE, Forty(), np.random.default_rng(0), points=20_000, bins=20)["mig"]
    assert m == pytest.approx(np.log(20) / np.log(40), abs=0.01)


def test_a_collapsed_code_scores_zero_on_factorvae():
    s = dis.factorvae_score(lambda x: np.zeros((len(x), 3)), Grid(), np.random.default_rng(0), **SMALL)
    assert s["factorvae_score"] == 0.0


def test_a_half_disentangled_code_sits_between():
    """Two factors mixed into one dimension pair: the gap shrinks for those two only."""
    def mixed(x):
        z = x.numpy().copy()
        z[:, 3], z[:, 4] = z[:, 3] + z[:, 4], z[:, 3] - z[:, 4]
        return z
    s = scores(mixed)
    assert s["mig_a"] > 0.99 and s["mig_d"] < 0.6 and s["mig_e"] < 0.6
    assert s["mig"] < 0.85
