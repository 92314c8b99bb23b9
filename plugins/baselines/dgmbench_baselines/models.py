"""The two baseline densities. Neither needs gradient training: ``train_step`` accumulates the
sufficient statistics (or nothing) and ``configure_optimizers`` returns no optimizer."""
from __future__ import annotations

import math

import torch

from dgmbench.model import Model


class Uniform(Model):
    """p(y) = 1 on [0, 1]^D."""

    def __init__(self, shape, config=None):
        super().__init__(config)
        self.shape = tuple(shape)

    @classmethod
    def build(cls, dataset, config):
        if dataset.levels is None:
            raise ValueError("the uniform baseline needs data in [0, 1] (a dataset with discrete levels)")
        return cls(dataset.shape, config)

    def log_prob(self, x):
        inside = ((x >= 0) & (x <= 1)).flatten(1).all(1)
        return torch.where(inside, 0.0, -math.inf).to(x.dtype)

    def sample(self, n):
        return torch.rand(n, *self.shape)

    def configure_optimizers(self, lr):
        return []

    def train_step(self, x, y, optimizers, step, autocast):
        return {"loss": -self.log_prob(x).mean()}


class Gaussian(Model):
    """N(mu, Sigma) with mu, Sigma the maximum-likelihood estimates on all examples seen in
    training: mu = mean(x), Sigma = mean((x - mu)(x - mu)^T) (+ a tiny jitter for stability)."""

    def __init__(self, shape, config=None):
        super().__init__(config)
        self.shape = tuple(shape)
        d = math.prod(self.shape)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("outer", torch.zeros(d, d, dtype=torch.float64))
        self.jitter = float(self.config.get("jitter", 1e-6))
        self._dist = None

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset.shape, config)

    def _load_from_state_dict(self, *args, **kwargs):
        self._dist = None
        return super()._load_from_state_dict(*args, **kwargs)

    def fit(self, x: torch.Tensor) -> None:
        x = x.flatten(1).double()
        self.count += len(x)
        self.total += x.sum(0)
        self.outer += x.T @ x
        self._dist = None

    def distribution(self) -> torch.distributions.MultivariateNormal:
        if self._dist is None:
            mean = self.total / self.count
            cov = self.outer / self.count - torch.outer(mean, mean)
            cov = cov + self.jitter * torch.eye(len(mean), dtype=cov.dtype, device=cov.device)
            self._dist = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
        return self._dist

    def log_prob(self, x):
        return self.distribution().log_prob(x.flatten(1).double()).to(x.dtype)

    def sample(self, n):
        return self.distribution().sample((n,)).float().view(n, *self.shape)

    def configure_optimizers(self, lr):
        return []

    def train_step(self, x, y, optimizers, step, autocast):
        self.fit(x)  # the test NLL is the metric; no per-step likelihood (a D x D Cholesky each step)
        return {"examples_seen": self.count.float()}
