"""DDPM - denoising diffusion probabilistic models (Ho, Jain & Abbeel 2020).

The Gaussian diffusion of ``process.py`` with T = 1000 and beta linear from 1e-4 to 0.02; the
reverse chain p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I) with the fixed isotropic
variance sigma_t^2 = beta_t and the noise parameterization (Eq. 11)::

    mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(1 - beta_t),

eps_theta the U-Net of ``unet.py``. The decoder p(x_0 | x_1) is the discretized Gaussian
N(mu_theta(x_1, 1), beta_1) over the levels' bins (Eq. 13), so the bound is on the *discrete*
log-likelihood of the 8-bit data (``likelihood = "discrete"``, no dequantization), reported in
bits/dim as the paper's Table 1 "NLL <=" column.

Training (``objective``): ``simple`` (default; Table 1's FID 3.17 / NLL <= 3.75 row) minimizes
L_simple = E_{t ~ U{1..T}, eps} || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2
(Algorithm 1); ``bound`` minimizes the true bound L (the "L, fixed isotropic Sigma" row, NLL <=
3.70), estimated by one uniformly drawn term per example, scaled by T.

Configurations (``size``): ``paper`` - the CIFAR-10 network (ch 128, multipliers 1, 2, 2, 2,
two residual blocks per resolution, attention at 16 x 16, dropout 0.1), T = 1000; ``cpu`` and
``tiny`` - small networks and T = 100 / 20 (the paper's 1,000-step schedule respaced: the same
marginals q(x_t | x_0) at evenly spaced steps, ``process.linear_betas``); ``auto`` (default) is
``paper`` above 16 x 16 pixels, ``tiny`` on 8 x 8 digits. Not reproduced: the paper's EMA of the
weights (0.9999) and random flips; the learning rate 2e-4, batch 128 and 800k steps are a
budget's business."""
from __future__ import annotations

import torch

from .base import DiffusionModel, check_dataset, full_precision
from .process import discretized_gaussian_log_prob
from .unet import UNet

SCHEDULE = dict(beta_start=1e-4, beta_end=0.02)
PRESETS = {
    "tiny": dict(timesteps=20, channels=16, mult=[1, 2], res_blocks=1, attn_resolutions=[4], dropout=0.0),
    "cpu": dict(timesteps=100, channels=32, mult=[1, 2, 2], res_blocks=1, attn_resolutions=[8], dropout=0.1),
    "paper": dict(timesteps=1000, channels=128, mult=[1, 2, 2, 2], res_blocks=2, attn_resolutions=[16], dropout=0.1),
}
DEFAULTS = dict(objective="simple", bound_timesteps=0)


def resolve_config(shape, config: dict, presets=PRESETS, defaults=DEFAULTS) -> dict:
    """The ``size`` preset (auto / tiny / cpu / paper) and the defaults, under explicit keys."""
    C, H, W = shape
    size = config.get("size", "auto")
    if size == "auto":
        size = "tiny" if H * W <= 256 else "paper"
    if size not in presets:
        raise ValueError(f"unknown size {size!r}; choose one of auto, {', '.join(presets)}")
    return {**SCHEDULE, **defaults, **presets[size], **{k: v for k, v in config.items() if v is not None}, "size": size}


class DDPM(DiffusionModel):
    likelihood = "discrete"

    def __init__(self, shape, levels, config):
        super().__init__(shape, levels, config)
        cfg = self.config
        if cfg["objective"] not in ("simple", "bound"):
            raise ValueError(f"ddpm: objective must be 'simple' or 'bound', not {cfg['objective']!r}")
        C, H, W = self.shape
        self.eps = UNet(C, H, int(cfg["channels"]), tuple(cfg["mult"]), int(cfg["res_blocks"]),
                        tuple(cfg["attn_resolutions"]), float(cfg["dropout"]))

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        if levels is None:
            raise ValueError("ddpm scores discrete levels; the dataset has real values (levels None)")
        return cls(shape, levels, resolve_config(shape, config or {}))

    def reverse(self, xt, t):
        p = self.process
        b, ab = p._at("betas", t, xt), p._at("alphas_bar", t, xt)
        mean = (xt - b / (1 - ab).sqrt() * self.eps(xt, t)) / (1 - b).sqrt()
        return mean, b.log()

    def decoder_log_prob(self, x0, x1):
        one = torch.ones(len(x0), dtype=torch.long, device=x0.device)
        mean, logvar = (full_precision(v) for v in self.reverse(x1, one))
        return discretized_gaussian_log_prob(x0, mean, logvar.expand_as(mean), self.levels).flatten(1).sum(1)

    def loss(self, x, y=None):
        x0 = self.to_model(x)
        T = self.process.T
        if self.config["objective"] == "simple":
            t = torch.randint(1, T + 1, (len(x0),), device=x0.device)
            noise = torch.randn_like(x0)
            return ((noise - self.eps(self.process.q_sample(x0, t, noise), t)) ** 2).mean()
        t = torch.randint(1, T + 1, (len(x0),), device=x0.device)  # one term of the bound per example
        is_decoder = t == 1
        kl = self.kl_term(x0, t.clamp(min=2))
        dec = self.decoder_term(x0)
        bound = self.process.prior_kl(x0) + T * torch.where(is_decoder, dec, kl)
        return bound.mean() / x0[0].numel()
