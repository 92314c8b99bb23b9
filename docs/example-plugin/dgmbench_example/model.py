"""Each sub-pixel y_d ~ Logistic(mu_d, s_d), independently: log p(y) = sum_d log Logistic(y_d)."""
import torch
from torch.distributions import TransformedDistribution, Uniform
from torch.distributions.transforms import AffineTransform, SigmoidTransform

from dgmbench.model import Model


class PixelLogistic(Model):
    likelihood = "continuous"  # the harness feeds dequantized pixels in [0, 1]

    def __init__(self, shape, config=None):
        super().__init__(config)
        self.shape = tuple(shape)
        self.mu = torch.nn.Parameter(torch.full(self.shape, 0.5))
        self.log_s = torch.nn.Parameter(torch.full(self.shape, -2.0))

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset.shape, config)

    def _dist(self):
        base = Uniform(torch.zeros_like(self.mu), torch.ones_like(self.mu))
        logistic = [SigmoidTransform().inv, AffineTransform(self.mu, self.log_s.exp())]
        return TransformedDistribution(base, logistic)

    def log_prob(self, x):
        return self._dist().log_prob(x).flatten(1).sum(1)

    def sample(self, n):
        return self._dist().sample((n,)).clamp(0, 1)
