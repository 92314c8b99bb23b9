"""The Gaussian diffusion process and the terms of its variational bound (Sohl-Dickstein et al.
2015, Sec. 2; Ho et al. 2020, Sec. 2-3), shared by ``deep-diffusion`` and ``ddpm``.

Forward process, a fixed Markov chain of T Gaussian steps with variances beta_1..beta_T::

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I),       abar_t = prod_{s<=t} (1 - beta_s)
    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
        mu~_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(1 - beta_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
        beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t

The bound on -log p(x_0) (Ho et al. Eq. 5), for a reverse chain p(x_{t-1} | x_t) = N(mu_theta, sigma_t^2):

    L = L_T + sum_{t=2}^T L_{t-1} + L_0,
    L_T = KL(q(x_T | x_0) || N(0, I)),   L_{t-1} = E_q KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),
    L_0 = -E_q log p(x_0 | x_1)

Time steps here are 1-based as in the papers (index t - 1 into the arrays). Everything in float64
buffers, cast to the data's dtype on use.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02,
                 base_steps: int = 1000) -> torch.Tensor:
    """Ho et al.'s schedule: beta_t linear from 1e-4 to 0.02 over T = 1000 steps. A shorter chain keeps
    the same marginals at evenly spaced steps of that one ("respacing", Nichol & Dhariwal 2021, Sec.
    4): abar'_k = abar_{k * 1000 / T}, beta'_k = 1 - abar'_k / abar'_{k-1}; so abar_T, hence L_T, is
    the paper's for any T, and no step's beta approaches 1 (scaling the endpoints by 1000 / T would
    put beta_T at 1 for T = 20)."""
    base = torch.linspace(beta_start, beta_end, base_steps, dtype=torch.float64)
    if timesteps == base_steps:
        return base
    alphas_bar = torch.cumprod(1 - base, 0)
    keep = torch.round(torch.linspace(base_steps / timesteps, base_steps, timesteps, dtype=torch.float64)).long() - 1
    kept = alphas_bar[keep]
    return 1 - kept / torch.cat([torch.ones(1, dtype=torch.float64), kept[:-1]])


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    """KL(N(mean1, exp logvar1) || N(mean2, exp logvar2)), element-wise, in nats."""
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1)


def normal_log_prob(x, mean, logvar) -> torch.Tensor:
    """log N(x; mean, exp logvar), element-wise."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def discretized_gaussian_log_prob(x, mean, logvar, levels: int) -> torch.Tensor:
    """log P(x) of N(mean, exp logvar) integrated over x's bin, for x on the L levels of [-1, 1]
    (bins of half-width 1/(L-1)); the lowest and highest bins extend to -inf and +inf
    (Ho et al. Eq. 13), so the probabilities of the L levels sum to one."""
    half = 1.0 / (levels - 1)
    inv_std = torch.exp(-0.5 * logvar)
    plus, minus = (x + half - mean) * inv_std, (x - half - mean) * inv_std
    lowest = torch.special.log_ndtr(plus)                 # log Phi(plus)
    highest = torch.special.log_ndtr(-minus)              # log (1 - Phi(minus))
    interior = torch.log((torch.special.ndtr(plus) - torch.special.ndtr(minus)).clamp(min=1e-12))
    return torch.where(x < -1 + half, lowest, torch.where(x > 1 - half, highest, interior))


class GaussianDiffusion(nn.Module):
    """The schedule's closed forms (buffers, so they move with the model)."""

    def __init__(self, betas: torch.Tensor):
        super().__init__()
        betas = betas.double()
        alphas_bar = torch.cumprod(1 - betas, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_bar[:-1]])
        self.T = len(betas)
        self.register_buffer("betas", betas)
        self.register_buffer("alphas_bar", alphas_bar)
        self.register_buffer("alphas_bar_prev", prev)
        self.register_buffer("posterior_var", betas * (1 - prev) / (1 - alphas_bar))

    def _at(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Entry t (1-based, shape (B,)) of a schedule array, shaped to broadcast over ``like``."""
        v = getattr(self, name)[t - 1].to(like.dtype)
        return v.view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise ~ q(x_t | x_0)."""
        ab = self._at("alphas_bar", t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def q_step(self, x_prev, t, noise):
        """One forward step x_t ~ q(x_t | x_{t-1})."""
        b = self._at("betas", t, x_prev)
        return (1 - b).sqrt() * x_prev + b.sqrt() * noise

    def q_posterior(self, x0, xt, t):
        """Mean and log-variance of q(x_{t-1} | x_t, x_0), t >= 2."""
        b, ab, abp = (self._at(n, t, x0) for n in ("betas", "alphas_bar", "alphas_bar_prev"))
        mean = abp.sqrt() * b / (1 - ab) * x0 + (1 - b).sqrt() * (1 - abp) / (1 - ab) * xt
        return mean, self._at("posterior_var", t, x0).log().expand_as(x0)

    def prior_kl(self, x0) -> torch.Tensor:
        """L_T per example: KL(q(x_T | x_0) || N(0, I)) summed over dimensions."""
        t = torch.full((len(x0),), self.T, device=x0.device, dtype=torch.long)
        ab = self._at("alphas_bar", t, x0)
        kl = normal_kl(ab.sqrt() * x0, (1 - ab).log().expand_as(x0), torch.zeros_like(x0), torch.zeros_like(x0))
        return kl.flatten(1).sum(1)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """The Transformer's sinusoidal position embedding of the time step (Ho et al. Appendix B)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return torch.nn.functional.pad(emb, (0, dim % 2))
