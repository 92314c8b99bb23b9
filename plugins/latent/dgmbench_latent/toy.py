"""The data of the posterior-collapse toy example (lecture notes, "Posterior collapse: toy
example"): x ~ N(mu, Sigma) in two dimensions, with Sigma diagonal or not.

A VAE whose decoder p(x | z) = N(mu(z), diag sigma(z)^2) has a diagonal covariance can model the
diagonal case with z ignored (mu(z) = mu, sigma(z)^2 = diag Sigma gives ELBO = log p(x) and
KL = 0), so the KL term pushes q(z | x) onto the prior: no active unit. With correlated
coordinates the decoder alone cannot express the correlation, and the latent code is used.
Both datasets share mu and the marginal variances; only the correlation differs.
"""
from __future__ import annotations

import numpy as np
import torch

from dgmbench.data import DataSplit

MEAN = np.array([0.5, -1.0])
STD = np.array([1.0, 0.5])
RHO = 0.9  # the correlation of the full-covariance case


def covariance(kind: str) -> np.ndarray:
    """Sigma for ``kind`` = "diag" (independent coordinates) or "full" (correlation RHO)."""
    corr = np.eye(2) if kind == "diag" else np.array([[1.0, RHO], [RHO, 1.0]])
    return corr * np.outer(STD, STD)


def load_gaussian(split: str, root=None, download=False, covariance_kind: str = "diag",
                  n_train: int = 20000, n_test: int = 5000) -> DataSplit:
    """20,000 train / 5,000 test draws of N(MEAN, covariance(kind)), fixed seeds per split."""
    if covariance_kind not in ("diag", "full"):
        raise ValueError(f"covariance_kind must be diag or full, not {covariance_kind!r}")
    rng = np.random.default_rng(0 if split == "train" else 1)
    n = n_train if split == "train" else n_test
    x = rng.multivariate_normal(MEAN, covariance(covariance_kind), size=n)
    return DataSplit(torch.tensor(x, dtype=torch.float32), meta={"mean": MEAN.tolist(),
                                                                 "covariance": covariance(covariance_kind).tolist()})


def exact_log_prob(x: torch.Tensor, covariance_kind: str) -> torch.Tensor:
    """log N(x | MEAN, Sigma), the best any model can do (for tests and reports)."""
    dist = torch.distributions.MultivariateNormal(torch.tensor(MEAN), torch.tensor(covariance(covariance_kind)))
    return dist.log_prob(x.double())
