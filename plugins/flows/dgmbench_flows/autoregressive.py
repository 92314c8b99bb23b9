"""MADE-style autoregressive layers and the two autoregressive flows built on them.

MADE (Germain et al. 2015): an MLP whose weights are multiplied by binary masks so that output i
depends only on inputs 1..i-1. Each input has degree d(i) = i (1..D), each hidden unit a degree
m(k) in 1..D-1; the mask of a hidden layer lets unit k see unit j when m(k) >= m_prev(j), the
output mask lets output i see hidden unit k when i > m(k). A ``context`` vector (the encoder's h
in IAF) enters the first hidden layer unmasked: it may influence every output.

With [mu, s] = MADE(z; context) and sigma = sigmoid(s + 2) (Kingma et al. 2016, eq. 14 and the
"forget-gate" bias that starts each step near the identity):

* **IAF step** (inverse autoregressive flow; Kingma et al. 2016, eq. 10-14), the posterior's
  direction, sampling in one pass:
      z' = sigma(z) * z + (1 - sigma(z)) * mu(z),    log |det dz'/dz| = sum_i log sigma_i(z),
  since dz'_i/dz_j = 0 for j > i (sigma_i, mu_i depend on z_<i only) and dz'_i/dz_i = sigma_i.
* **AF step** (autoregressive flow; the VLAE prior, Chen et al. 2017, Sec. 3.2), the same map
  read the other way: the density of z is evaluated in one pass through its noise
      u = (z - (1 - sigma(z)) * mu(z)) / sigma(z),   log |det du/dz| = -sum_i log sigma_i(z),
  and sampling inverts it dimension by dimension (D passes).

Steps alternate the variable order (a reversal between steps), so that a stack is not
triangular in one fixed order. The MADE networks here are written by hand: ``torch.distributions``
has no masked autoregressive layer, and the nflows / zuko libraries would pull in a whole flow
framework for these few lines.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed binary mask M (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


def made_degrees(dim: int, hidden: Sequence[int]) -> list[torch.Tensor]:
    """Degrees of the input (1..D) and of each hidden layer (cycling through 1..D-1)."""
    degrees = [torch.arange(1, dim + 1)]
    for h in hidden:
        degrees.append(torch.arange(h) % max(dim - 1, 1) + 1)
    return degrees


class MADE(nn.Module):
    """x (B, D) [and context (B, C)] -> ``outputs`` tensors (B, D), output i a function of x_<i.

    ReLU hidden layers of sizes ``hidden``; the output layer starts at zero, so an IAF or AF step
    built on it starts as z' = z * sigmoid(2) + ... (near the identity up to scale)."""

    def __init__(self, dim: int, hidden: Sequence[int], outputs: int = 2, context: int = 0):
        super().__init__()
        self.dim, self.outputs = int(dim), int(outputs)
        hidden = [int(h) for h in hidden]
        deg = made_degrees(self.dim, hidden)
        layers = []
        for d_in, d_out in zip(deg[:-1], deg[1:]):
            layers.append(MaskedLinear(len(d_in), len(d_out), d_out[:, None] >= d_in[None, :]))
        self.hidden = nn.ModuleList(layers)
        out_mask = (deg[0][:, None] > deg[-1][None, :]).repeat(self.outputs, 1)
        self.out = MaskedLinear(len(deg[-1]), self.outputs * self.dim, out_mask)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.context = nn.Linear(context, hidden[0], bias=False) if context and hidden else None

    def forward(self, x, context=None):
        h = x
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            if i == 0 and self.context is not None and context is not None:
                h = h + self.context(context)
            h = F.relu(h)
        return self.out(h).view(*x.shape[:-1], self.outputs, self.dim).unbind(-2)


class _ARStep(nn.Module):
    """One MADE with a variable order: ``reverse`` flips z before and after the MADE."""

    def __init__(self, dim: int, hidden: Sequence[int], context: int = 0, reverse: bool = False):
        super().__init__()
        self.made = MADE(dim, hidden, 2, context)
        self.reverse = bool(reverse)

    def _mu_sigma(self, z, context):
        zz = z.flip(-1) if self.reverse else z
        mu, s = self.made(zz, context)
        log_sigma = F.logsigmoid(s + 2.0)
        if self.reverse:
            mu, log_sigma = mu.flip(-1), log_sigma.flip(-1)
        return mu, log_sigma


class IAFStep(_ARStep):
    """z -> z' = sigma z + (1 - sigma) mu; returns (z', log|det dz'/dz|) with shape (...,)."""

    def forward(self, z, context=None):
        mu, log_sigma = self._mu_sigma(z, context)
        sigma = log_sigma.exp()
        return sigma * z + (1 - sigma) * mu, log_sigma.sum(-1)


class AFStep(_ARStep):
    """The density direction of an autoregressive flow: z -> u, (u, log|det du/dz|)."""

    def forward(self, z, context=None):
        mu, log_sigma = self._mu_sigma(z, context)
        sigma = log_sigma.exp()
        return (z - (1 - sigma) * mu) / sigma, -log_sigma.sum(-1)

    @torch.no_grad()
    def inverse(self, u, context=None):
        """z from u, one dimension per pass (z_i needs z_<i)."""
        z = torch.zeros_like(u)
        order = range(u.shape[-1] - 1, -1, -1) if self.reverse else range(u.shape[-1])
        for i in order:
            mu, log_sigma = self._mu_sigma(z, context)
            sigma = log_sigma.exp()
            z[..., i] = u[..., i] * sigma[..., i] + (1 - sigma[..., i]) * mu[..., i]
        return z


class AFPrior(nn.Module):
    """p(z) = N(u; 0, I) |det du/dz| with u = f_K o ... o f_1(z), each f an :class:`AFStep`
    (orders alternating). ``log_prob`` is one pass per step; ``sample`` K x D passes."""

    def __init__(self, dim: int, steps: int, hidden: Sequence[int]):
        super().__init__()
        self.dim = int(dim)
        self.steps = nn.ModuleList(AFStep(dim, hidden, reverse=bool(i % 2)) for i in range(steps))

    def log_prob(self, z):
        logdet = 0.0
        for step in self.steps:
            z, ld = step(z)
            logdet = logdet + ld
        return -0.5 * (z * z).sum(-1) - 0.5 * self.dim * torch.log(torch.tensor(2 * torch.pi)) + logdet

    @torch.no_grad()
    def sample(self, n: int, device=None):
        u = torch.randn(n, self.dim, device=device)
        for step in reversed(self.steps):
            u = step.inverse(u)
        return u


class IAFPosterior(nn.Module):
    """z_0 ~ N(mu(x), sigma(x)^2), z_T = g_T o ... o g_1(z_0) with :class:`IAFStep` g's fed the
    encoder's context h; log q(z_T | x) = log N(z_0; mu, sigma^2) - sum_t log|det dz_t/dz_{t-1}|."""

    def __init__(self, dim: int, steps: int, hidden: Sequence[int], context: int):
        super().__init__()
        self.steps = nn.ModuleList(IAFStep(dim, hidden, context, reverse=bool(i % 2)) for i in range(steps))

    def forward(self, z0, log_q0, context):
        """(z_T, log q(z_T | x)) from z_0 (k, B, d), its log density (k, B) and h (B, C)."""
        z, log_q = z0, log_q0
        for step in self.steps:
            z, ld = step(z, context)
            log_q = log_q - ld
        return z, log_q
