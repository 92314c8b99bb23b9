"""An oracle encoder and its rotated twin: the construction of Locatello et al. (2019,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled Representations",
Theorem 1; the seeds' proof) made concrete.

The oracle reads the true factors v off the image (the dataset's ``factors_of``; an image that
several grid points draw alike gets one of them at random) and returns each, jittered within its
cell so that its distribution is continuous and the CDFs below are bijections:
    z_k = (v_k + u_k) / n_k ~ U(0, 1),   u_k ~ U(0, 1),   v_k in {0..n_k-1}
(``marginal: gaussian``: Phi^{-1} of that, N(0, 1)). Under the uniform factor distribution the z_k
are independent. The rotated oracle is the seeds' f:
    f(z) = g^{-1}(h^{-1}(A h(g(z)))),   g = the CDF of z (the identity for U(0, 1)),  h = Phi^{-1},
A orthogonal with no zero entry: A h(g(z)) is again N(0, I), so f(z) has exactly the marginals of
z (the protocol checks them with a KS test), yet each of its dimensions depends on every factor.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import norm

from dgmbench.model import Model
from dgmbench.specs import resolve


def rotation_without_zeros(d: int, seed: int = 0, min_abs: float = 0.05) -> np.ndarray:
    """A random orthogonal d x d matrix (QR of a Gaussian matrix, signs fixed) whose entries all
    have |A_ij| >= min_abs, redrawn until they do."""
    rng = np.random.default_rng(seed)
    while True:
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        a = q * np.sign(np.diag(r))
        if np.abs(a).min() >= min_abs:
            return a


def rotate(z: np.ndarray, a: np.ndarray, marginal: str = "uniform") -> np.ndarray:
    """f(z) = g^{-1}(Phi(A Phi^{-1}(g(z)))) for rows z with independent U(0, 1) (or N(0, 1)) entries."""
    if marginal == "gaussian":
        return z @ a.T
    return norm.cdf(norm.ppf(z) @ a.T)


def factor_code(levels: np.ndarray, sizes, rng: np.random.Generator | None, marginal: str = "uniform") -> np.ndarray:
    """(v + u) / n per factor, u ~ U(0, 1) (1/2 without an rng); ``gaussian``: Phi^{-1} of it."""
    u = rng.uniform(size=levels.shape) if rng is not None else 0.5
    z = np.clip((levels + u) / np.asarray(sizes, dtype=np.float64), 1e-12, 1 - 1e-12)
    return norm.ppf(z) if marginal == "gaussian" else z


class Oracle(Model):
    """Encodes an image as its true factors, each uniform on (0, 1) (``rotate: true``: then through f).
    Needs a dataset whose factor sampler can read factors off an image (dsprites' renderer).
    No parameters: the harness takes no training steps. Config: ``rotate`` (false), ``seed`` (0:
    the seed of A), ``jitter`` (true), ``marginal`` (uniform | gaussian)."""

    likelihood = "none"

    def __init__(self, truth, config=None):
        super().__init__(config)
        if not hasattr(truth, "factors_of"):
            raise ValueError("the oracle needs a dataset whose factor sampler reads the factors off an image "
                             "(the rendered dsprites)")
        self.truth = truth
        self.levels = [np.asarray(v) for v in truth.factor_values]
        self.rotate = bool(self.config.get("rotate", False))
        self.jitter = bool(self.config.get("jitter", True))
        self.marginal = str(self.config.get("marginal", "uniform"))
        if self.marginal not in ("uniform", "gaussian"):
            raise ValueError(f"marginal must be uniform or gaussian, not {self.marginal!r}")
        self.rotation = rotation_without_zeros(len(self.levels), int(self.config.get("seed", 0)))
        self._rng = np.random.default_rng(int(self.config.get("seed", 0)) + 1)

    @classmethod
    def build(cls, dataset, config):
        data = resolve(dataset.load)("test", None, False, **dict(dataset.options))
        if data.ground_truth is None:
            raise ValueError(f"dataset {dataset.name!r} has no ground-truth factors")
        return cls(data.ground_truth, config)

    def represent(self, factors: np.ndarray) -> np.ndarray:
        levels = np.stack([np.searchsorted(v, factors[:, k]) for k, v in enumerate(self.levels)], 1)
        z = factor_code(levels, [len(v) for v in self.levels], self._rng if self.jitter else None, self.marginal)
        return rotate(z, self.rotation, self.marginal) if self.rotate else z

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        z = self.represent(self.truth.factors_of(x, self._rng))
        return [torch.as_tensor(z, dtype=torch.float32, device=x.device)]

    def configure_optimizers(self, lr):
        return []

    def train_step(self, x, y, optimizers, step, autocast):
        return {}
