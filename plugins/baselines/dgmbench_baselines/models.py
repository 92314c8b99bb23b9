"""The two baseline densities. Neither needs gradient training: the Gaussian fits itself in one
call (``fit``) and the uniform density has nothing to fit (no parameters, no optimizer)."""
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



class Gaussian(Model):
    """N(mu, Sigma) with mu, Sigma the maximum-likelihood estimates on the whole training split,
    fitted in one pass: mu = mean(x), Sigma = mean((x - mu)(x - mu)^T) + jitter * I.

    The jitter (config ``jitter``, default 1e-6) keeps Sigma positive definite when pixels are
    (nearly) collinear, e.g. on a few examples or on data that is not dequantized; it adds 1e-6 to
    each variance, against the dequantization noise's own 1 / (12 L^2) = 1.3e-6 per pixel of 8-bit
    data, so on CIFAR-10 it moves the test NLL only slightly (and upward, never flattering it)."""

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

    @torch.no_grad()
    def fit(self, x: torch.Tensor, y=None) -> dict:
        """The sufficient statistics n, sum x, sum x x^T in one pass (float64, 4,096 rows at a time)."""
        self.count.zero_(), self.total.zero_(), self.outer.zero_()
        for chunk in x.flatten(1).split(4096):
            chunk = chunk.double()
            self.count += len(chunk)
            self.total += chunk.sum(0)
            self.outer += chunk.T @ chunk
        self._dist = None
        return {"examples": float(self.count)}

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
