"""Deep diffusion - "Deep Unsupervised Learning using Nonequilibrium Thermodynamics"
(Sohl-Dickstein, Weiss, Maheswaranathan & Ganguli 2015).

A forward Gaussian diffusion q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I) slowly turns
the data into N(0, I); the generative model is the learned reverse diffusion, Gaussian at every
step with a learned mean *and* diagonal covariance (Sec. 2.2)::

    p(x_{t-1} | x_t) = N(f_mu(x_t, t), diag f_Sigma(x_t, t)),

trained, and evaluated, by the variational bound K on log p(x_0) (Sec. 2.4, Eq. 14): the same
L_T + sum L_{t-1} + L_0 terms as ``process.py`` with a Gaussian decoder p(x_0 | x_1) = N(f_mu, f_Sigma)
- a *density* on [-1, 1]^D, so the harness dequantizes the data and its bits/dim is a bound on
the dequantized density (``likelihood = "continuous"``, flagged as a bound).

The reverse network (Appendix D, Fig. D.1): a multi-scale convolution (the input mean-pooled to
``scales`` resolutions, a ``channels``-map 3 x 3 convolution at each, upsampled back and summed),
``dense_layers`` 1 x 1 layers, and an output of 2 C x ``basis`` coefficients per pixel that are
mixed over time by ``basis`` Gaussian bump functions g_k(t) (softmax-normalized, centres spread
over 1..T): [mu_coef, sigma_coef](t) = sum_k g_k(t) out_k. The step's mean and variance are
mu = x_t + sqrt(beta_t) mu_coef and sigma^2 = beta_t exp(sigma_coef): a drift and a variance on
the scale of one forward step (our parameterization of the paper's f_mu, f_Sigma).

Training: the bound, one uniformly drawn term per example scaled by T, plus L_T (Sec. 2.4 trains
K directly; the paper also learns beta_2..beta_T, here the schedule is fixed: DDPM's linear one
over T = 1000). Configurations (``size``): ``paper`` (T = 1000; the network widths are ours:
the paper states the structure, not every width), ``cpu``, ``tiny``; ``auto`` as in ``ddpm``."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import DiffusionModel, check_dataset, full_precision
from .ddpm import resolve_config
from .process import normal_log_prob

PRESETS = {
    "tiny": dict(timesteps=20, channels=16, scales=2, dense_layers=2, basis=4),
    "cpu": dict(timesteps=100, channels=32, scales=3, dense_layers=2, basis=6),
    "paper": dict(timesteps=1000, channels=64, scales=4, dense_layers=4, basis=10),
}
DEFAULTS = dict(bound_timesteps=0)


class MultiScaleConv(nn.Module):
    """sum over scales s of upsample_s(conv_s(meanpool_s(x))) (Appendix D)."""

    def __init__(self, cin: int, channels: int, scales: int):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(cin, channels, 3, padding=1) for _ in range(scales)])

    def forward(self, x):
        H, W = x.shape[-2:]
        out = 0
        for s, conv in enumerate(self.convs):
            k = 2 ** s
            if H % k or W % k:
                break
            h = conv(F.avg_pool2d(x, k) if k > 1 else x)
            out = out + (F.interpolate(h, scale_factor=k, mode="nearest") if k > 1 else h)
        return out


class ReverseNetwork(nn.Module):
    def __init__(self, data_channels: int, channels: int, scales: int, dense_layers: int, basis: int, T: int):
        super().__init__()
        self.C, self.basis, self.T = data_channels, basis, T
        self.multiscale = MultiScaleConv(data_channels, channels, scales)
        dense = []
        for _ in range(dense_layers):
            dense += [nn.LeakyReLU(), nn.Conv2d(channels, channels, 1)]
        self.dense = nn.Sequential(*dense, nn.LeakyReLU(), nn.Conv2d(channels, 2 * data_channels * basis, 1))
        self.register_buffer("centres", torch.linspace(1, T, basis))
        self.width = T / basis

    def bumps(self, t: torch.Tensor) -> torch.Tensor:
        """g_k(t), (B, basis): softmax over k of -(t - tau_k)^2 / (2 w^2), w = T / basis."""
        return torch.softmax(-((t.float()[:, None] - self.centres[None]) ** 2) / (2 * self.width ** 2), dim=1)

    def forward(self, x, t):
        B, C, H, W = x.shape
        out = self.dense(self.multiscale(x)).view(B, 2 * C, self.basis, H, W)
        coef = torch.einsum("bckhw,bk->bchw", out, self.bumps(t).to(out.dtype))
        return coef[:, :C], coef[:, C:]


class DeepDiffusion(DiffusionModel):
    likelihood = "continuous"

    def __init__(self, shape, levels, config):
        super().__init__(shape, levels, config)
        cfg = self.config
        self.net = ReverseNetwork(self.shape[0], int(cfg["channels"]), int(cfg["scales"]), int(cfg["dense_layers"]),
                                  int(cfg["basis"]), self.process.T)

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, resolve_config(shape, config or {}, PRESETS, DEFAULTS))

    def reverse(self, xt, t):
        b = self.process._at("betas", t, xt)
        mu_coef, sigma_coef = self.net(xt, t)
        return xt + b.sqrt() * mu_coef, b.log() + sigma_coef.clamp(-10, 10)

    def decoder_log_prob(self, x0, x1):
        one = torch.ones(len(x0), dtype=torch.long, device=x0.device)
        mean, logvar = (full_precision(v) for v in self.reverse(x1, one))
        return normal_log_prob(x0, mean, logvar).flatten(1).sum(1)

    def loss(self, x, y=None):
        x0 = self.to_model(x)
        T = self.process.T
        t = torch.randint(1, T + 1, (len(x0),), device=x0.device)
        term = torch.where(t == 1, self.decoder_term(x0), self.kl_term(x0, t.clamp(min=2)))
        return (self.process.prior_kl(x0) + T * term).mean() / math.prod(self.shape)
