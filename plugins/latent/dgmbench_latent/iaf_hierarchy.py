"""ResNet VAE with bidirectional inference and IAF: the CIFAR-10 model of Kingma, Salimans,
Jozefowicz, Chen, Sutskever & Welling (2016), "Improved Variational Inference with Inverse
Autoregressive Flow", Sec. 6 and Appendix C (3.11 bits/dim in their Table 2).

Defaults and structure follow the authors' TensorFlow code (github.com/openai/iaf, ``tf_train.py``
at commit ad33fe4: ``IAFLayer``, ``CVAE1`` and ``get_default_hparams``): ``h_size`` = 160 feature
maps, ``z_size`` = 32 latent feature maps per stochastic layer, ``depth`` = 2 levels (16x16 and
8x8 on CIFAR-10) of ``num_blocks`` = 2 stochastic ResNet blocks each, free bits ``kl_min`` = 0.25
nats per latent feature map, training with k = 1.

Model. x (C, H, W) in [0, 1] is centred to [-0.5, 0.5] and a 5x5 stride-2 conv makes the first
features (H/2 x W/2). Each of the L stochastic blocks has an upward half and a downward half.

Bottom-up (deterministic, inference only), block l: from ELU(u), one 3x3 conv (stride 2 where the
block starts a smaller level) gives q's contribution (mu_l^up, log sigma_l^up), a context c_l^up
and features; u <- u + 0.1 conv3x3(ELU(features)) (nearest-neighbour halving where it strides).

Top-down (generative, shared by inference), from a learned constant h_top at H/2^depth, block l
from the top: from ELU(h), one 3x3 conv gives the prior p(z_l | z_>l) = N(mu_l^p, sigma_l^p), the
posterior's top-down part (mu_l^r, log sigma_l^r), a context c_l^down and features d_l; then
    q(z_l^0 | x, z_>l) = N(mu_l^r + mu_l^up, exp(log sigma_l^r + log sigma_l^up)),
    [m, s] = 0.1 * ARConv(z_l^0, c_l^up + c_l^down),   z_l = (z_l^0 - m) / exp(s),
    log q(z_l | .) = log N(z_l^0) + sum s,   KL_l = log q(z_l | .) - log p(z_l | z_>l)  (one sample),
    h <- h + 0.1 conv3x3(ELU([z_l, d_l]))  (nearest-neighbour doubling and a stride-2 deconv where
    the level changes).
ARConv is the authors' ``ar_multiconv2d``: two masked 3x3 convs of ``h_size`` maps (the context is
added after the first), ELU, then two masked 3x3 convs to ``z_size`` maps each. Each mask lets
an output at a position read the later positions (below and right of it) and, at its own
position, only earlier channels (strictly earlier in the output convs), so dz_l/dz_l^0 is
triangular with diagonal exp(-s): that is the IAF step of eq. 10-14.

Decoder: ELU(h), a 5x5 stride-2 deconv to the pixel means (clipped to the bin centres' range as
in the authors' code) and ONE learned log-scale: a discretized logistic per sub-pixel
(:func:`dgmbench_latent.pixels.pixel_log_prob`, whose edge bins take the tails, so the bins sum to 1).

Objective (training): -log p(x | z) + sum_l sum_maps max(E_batch[sum_positions KL_l], kl_min),
free bits per latent feature map averaged over the batch, as ``tf_train.py`` does. Evaluation: the
importance weights log p(x | z) - sum_l KL_l with k samples (``iw_bound``, ``nll``).

Differences from the authors' code, on purpose: plain convolutions instead of weight-normalized
ones with data-dependent initialization; Adam at the budget's learning rate instead of Adamax at
0.01 with an exponential moving average of the weights (the suite gives every model of a table the
same optimizer budget).

Presets (config ``preset``): ``paper`` (above) and ``small`` (h 32, z 8, 2 levels of 1 block), a
CPU-sized model for the CPU budgets; any key given explicitly wins.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

from .networks import resolve_preset
from .pixels import pixel_log_prob, pixel_mean, pixel_sample

LOG_2PI = math.log(2 * math.pi)

PRESETS = {
    "paper": {"h_size": 160, "z_size": 32, "depth": 2, "num_blocks": 2, "kl_min": 0.25},
    "small": {"h_size": 32, "z_size": 8, "depth": 2, "num_blocks": 1, "kl_min": 0.25},
}


def linear_ar_mask(n_in: int, n_out: int, zero_diagonal: bool) -> torch.Tensor:
    """(n_out, n_in) mask: output group i (of n_out / n_in units, or input group of n_in / n_out)
    reads inputs up to i, or before i when ``zero_diagonal`` (``get_linear_ar_mask``)."""
    if n_in % n_out and n_out % n_in:
        raise ValueError(f"autoregressive masks need one size to divide the other, not {n_in} and {n_out}")
    mask = torch.ones(n_in, n_out)
    if n_out >= n_in:
        k = n_out // n_in
        for i in range(n_in):
            mask[i + 1:, i * k:(i + 1) * k] = 0
            if zero_diagonal:
                mask[i, i * k:(i + 1) * k] = 0
    else:
        k = n_in // n_out
        for i in range(n_out):
            mask[(i + 1) * k:, i] = 0
            if zero_diagonal:
                mask[i * k:(i + 1) * k, i] = 0
    return mask.T


class ARConv2d(nn.Conv2d):
    """A 3x3 convolution masked as ``get_conv_ar_mask``: no input from the row above or the left of
    the centre; at the centre, :func:`linear_ar_mask` over channels."""

    def __init__(self, c_in: int, c_out: int, zero_diagonal: bool):
        super().__init__(c_in, c_out, 3, padding=1)
        mask = torch.ones(c_out, c_in, 3, 3)
        mask[:, :, 0, :] = 0
        mask[:, :, 1, 0] = 0
        mask[:, :, 1, 1] = linear_ar_mask(c_in, c_out, zero_diagonal)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=1)


class ARMultiConv(nn.Module):
    """``ar_multiconv2d(z, context, [h, h], [z, z])``: the IAF step's (m, s)."""

    def __init__(self, z_size: int, h_size: int):
        super().__init__()
        self.hidden = nn.ModuleList([ARConv2d(z_size, h_size, False), ARConv2d(h_size, h_size, False)])
        self.out = nn.ModuleList([ARConv2d(h_size, z_size, True), ARConv2d(h_size, z_size, True)])

    def forward(self, z, context):
        h = F.elu(self.hidden[0](z) + context)
        h = F.elu(self.hidden[1](h))
        return self.out[0](h), self.out[1](h)


def gaussian_log_prob(z, mu, log_sigma):
    return -0.5 * (LOG_2PI + 2 * log_sigma + (z - mu) ** 2 * torch.exp(-2 * log_sigma))


class StochasticBlock(nn.Module):
    """One ``IAFLayer``: its upward half (inference) and downward half (generation and inference)."""

    def __init__(self, h: int, z: int, downsample: bool):
        super().__init__()
        self.h, self.z, self.downsample = h, z, downsample
        self.up1 = nn.Conv2d(h, 2 * z + 2 * h, 3, stride=2 if downsample else 1, padding=1)
        self.up2 = nn.Conv2d(h, h, 3, padding=1)
        self.down1 = nn.Conv2d(h, 4 * z + 2 * h, 3, padding=1)
        self.iaf = ARMultiConv(z, h)
        self.down2 = (nn.ConvTranspose2d(z + h, h, 3, stride=2, padding=1, output_padding=1) if downsample
                      else nn.Conv2d(z + h, h, 3, padding=1))

    def up(self, u):
        """(u for the next block, (mu^up, log sigma^up, c^up))."""
        q_mu, q_log_sigma, context, h = self.up1(F.elu(u)).split([self.z, self.z, self.h, self.h], 1)
        h = self.up2(F.elu(h))
        if self.downsample:
            u = F.interpolate(u, scale_factor=0.5, mode="nearest")
        return u + 0.1 * h, (q_mu, q_log_sigma, context)

    def down(self, h, up=None):
        """(h for the next block, KL_l per element or None): z_l from the posterior given the
        upward pass's ``up``, or from the prior when ``up`` is None (sampling)."""
        z, h_size = self.z, self.h
        p_mu, p_log_sigma, r_mu, r_log_sigma, context, h_det = self.down1(F.elu(h)).split(
            [z, z, z, z, h_size, h_size], 1)
        if up is None:
            latent, kl = p_mu + torch.exp(p_log_sigma) * torch.randn_like(p_mu), None
        else:
            q_mu, q_log_sigma, up_context = up
            mu, log_sigma = r_mu + q_mu, r_log_sigma + q_log_sigma
            z0 = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            m, s = self.iaf(z0, up_context + context)
            m, s = 0.1 * m, 0.1 * s
            latent = (z0 - m) * torch.exp(-s)
            kl = gaussian_log_prob(z0, mu, log_sigma) + s - gaussian_log_prob(latent, p_mu, p_log_sigma)
        out = F.elu(torch.cat([latent, h_det], 1))
        if self.downsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        return h + 0.1 * self.down2(out), kl


class HierarchicalIAFVAE(Model):
    """The ResNet VAE with bidirectional inference and IAF posteriors (see the module docstring)."""

    likelihood = "discrete"

    def __init__(self, shape, levels: int, config: dict):
        super().__init__(config)
        c = self.config
        if levels is None:
            raise ValueError("the ResNet VAE models discrete pixels; this dataset is real-valued")
        if len(shape) != 3:
            raise ValueError(f"the ResNet VAE needs images (C, H, W), not shape {tuple(shape)}")
        channels, height, width = shape
        h, z, depth, blocks = int(c["h_size"]), int(c["z_size"]), int(c["depth"]), int(c["num_blocks"])
        if depth < 1 or blocks < 1:
            raise ValueError(f"depth and num_blocks must be at least 1, not {depth} and {blocks}")
        if height % 2 ** depth or width % 2 ** depth:
            raise ValueError(f"depth {depth} needs H and W divisible by {2 ** depth}, not {height}x{width}")
        self.shape, self.levels, self.kl_min = tuple(shape), int(levels), float(c["kl_min"])
        self.top = (h, height // 2 ** depth, width // 2 ** depth)
        self.x_enc = nn.Conv2d(channels, h, 5, stride=2, padding=2)
        self.blocks = nn.ModuleList(StochasticBlock(h, z, downsample=i > 0 and j == 0)
                                    for i in range(depth) for j in range(blocks))
        self.h_top = nn.Parameter(torch.zeros(h))
        self.x_dec = nn.ConvTranspose2d(h, channels, 5, stride=2, padding=2, output_padding=1)
        self.dec_log_scale = nn.Parameter(torch.zeros(()))

    # -- the pieces of the bound ----------------------------------------------------------------
    def _top(self, n: int):
        return self.h_top.view(1, -1, 1, 1).expand(n, -1, *self.top[1:])

    def _params(self, h):
        """Per-sub-pixel (mu, log s) of the discretized logistic, mu in [0, 1]."""
        mu = (self.x_dec(F.elu(h)) + 0.5).clamp(0, 1)  # the first and last bins' centres
        return torch.cat([mu, self.dec_log_scale.expand_as(mu)], 1)

    def _pass(self, x, k: int):
        """log p(x | z) (k, B) and each block's KL (k*B, z, h, w), top block first."""
        xk = x.unsqueeze(0).expand(k, *x.shape).reshape(-1, *x.shape[1:])
        u, ups = self.x_enc(xk - 0.5), []
        for block in self.blocks:
            u, up = block.up(u)
            ups.append(up)
        h, kls = self._top(len(xk)), []
        for block, up in zip(reversed(self.blocks), reversed(ups)):
            h, kl = block.down(h, up)
            kls.append(kl)
        return pixel_log_prob(self._params(h), xk, self.levels).view(k, -1), kls

    def log_importance_weights(self, x, k):
        log_px, kls = self._pass(x, k)
        return log_px - sum(kl.flatten(1).sum(1) for kl in kls).view(k, -1)

    def elbo(self, x):
        return self.log_importance_weights(x, 1)[0]

    def loss(self, x, y=None):
        """-log p(x | z) + free-bits KL: per latent feature map, the batch mean of its KL summed
        over positions, at least ``kl_min`` nats."""
        log_px, kls = self._pass(x, 1)
        kl_obj = sum(kl.sum((2, 3)).mean(0).clamp(min=self.kl_min).sum() for kl in kls)
        return -log_px[0].mean() + kl_obj

    # -- generation -------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n):
        h = self._top(n)
        for block in reversed(self.blocks):
            h, _ = block.down(h)
        return pixel_sample(self._params(h), self.levels)

    @torch.no_grad()
    def reconstruct(self, x):
        """The mean of p(x | z) at a posterior draw of every layer."""
        u, ups = self.x_enc(x - 0.5), []
        for block in self.blocks:
            u, up = block.up(u)
            ups.append(up)
        h = self._top(len(x))
        for block, up in zip(reversed(self.blocks), reversed(ups)):
            h, _ = block.down(h, up)
        return pixel_mean(self._params(h), self.levels)


def build(ds, config):
    """``iaf-hierarchical-vae``: the authors' CIFAR-10 model (preset ``paper``) or a small one."""
    return HierarchicalIAFVAE(ds.shape, ds.levels, resolve_preset(PRESETS, config))
