"""Small models the core tests train (imported by the tests and by the scripts they start)."""
from __future__ import annotations

import torch

from dgmbench.model import Model


class NoisyGaussian(Model):
    """A diagonal Gaussian fitted by Adam on a loss with reparameterized noise, so a resumed run
    must restore the RNG as well as the weights and the optimizer's moments."""

    likelihood = "continuous"

    def __init__(self):
        super().__init__({})
        self.mu = torch.nn.Parameter(torch.randn(4))
        self.log_sigma = torch.nn.Parameter(torch.zeros(4))

    def log_prob(self, x):
        return torch.distributions.Normal(self.mu, self.log_sigma.exp()).log_prob(x).sum(-1)

    def loss(self, x, y=None):
        return -self.log_prob(x + 0.1 * torch.randn_like(x)).mean()
