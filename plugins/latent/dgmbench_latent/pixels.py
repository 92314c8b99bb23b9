"""Per-pixel output distributions and the convolutional ResNet (or DenseNet) blocks of the image VAEs.

Output distributions over images with L levels, pixels delivered as k / (L - 1) in [0, 1]:

* L = 2: Bernoulli(sigmoid(logit)) per pixel (binarized MNIST).
* L > 2: the discretized logistic of Kingma et al. (2016, Sec. 5.2; Salimans et al. 2017):
      P(x) = sigmoid((x + b/2 - mu) / s) - sigmoid((x - b/2 - mu) / s),   b = 1 / (L - 1),
  with the lowest bin's lower edge at -inf and the highest's upper edge at +inf, so the L bins
  sum to 1. Parameters: (mu, log s) per sub-pixel.

Both are probability masses on the exact levels (the models' ``likelihood = "discrete"``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def params_per_pixel(levels: int) -> int:
    """Output channels per data channel: 1 logit (binary) or (mu, log s)."""
    return 1 if levels == 2 else 2


def pixel_log_prob(params: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """log P(x | params) summed over (C, H, W): shape (...,) for params (..., P*C, H, W)."""
    if levels == 2:
        logp = -F.binary_cross_entropy_with_logits(params, x.expand_as(params), reduction="none")
        return logp.flatten(-3).sum(-1)
    mu, log_s = params.chunk(2, dim=-3)
    log_s = log_s.clamp(min=-7.0)
    half = 0.5 / (levels - 1)
    inv_s = torch.exp(-log_s)
    upper, lower = (x + half - mu) * inv_s, (x - half - mu) * inv_s
    log_cdf_upper = F.logsigmoid(upper)              # log P(X <= x + b/2): the lowest bin
    log_one_minus_cdf_lower = -F.softplus(lower)     # log P(X > x - b/2): the highest bin
    mid = torch.sigmoid(upper) - torch.sigmoid(lower)
    # a bin far in the tail: log of the density times the bin width (no cancellation)
    log_pdf_mid = (lower + upper) / 2 - log_s - 2 * F.softplus((lower + upper) / 2) + torch.log(torch.tensor(2 * half))
    log_mid = torch.where(mid > 1e-5, torch.log(mid.clamp_min(1e-12)), log_pdf_mid)
    logp = torch.where(x < half, log_cdf_upper, torch.where(x > 1 - half, log_one_minus_cdf_lower, log_mid))
    return logp.flatten(-3).sum(-1)


def pixel_mean(params: torch.Tensor, levels: int) -> torch.Tensor:
    """The distribution's mean (binary) or location (levels > 2), clamped to [0, 1]."""
    if levels == 2:
        return torch.sigmoid(params)
    return params.chunk(2, dim=-3)[0].clamp(0, 1)


def pixel_sample(params: torch.Tensor, levels: int) -> torch.Tensor:
    """A draw on the levels k / (L - 1)."""
    if levels == 2:
        return torch.bernoulli(torch.sigmoid(params))
    mu, log_s = params.chunk(2, dim=-3)
    u = torch.rand_like(mu).clamp(1e-5, 1 - 1e-5)
    x = mu + log_s.clamp(min=-7.0).exp() * (torch.log(u) - torch.log1p(-u))
    return (x.clamp(0, 1) * (levels - 1)).round() / (levels - 1)


class ResBlock(nn.Module):
    """h + conv3x3(ELU(conv3x3(ELU(h)))): the pre-activation residual block (He et al. 2016) of
    Kingma et al.'s ResNet VAE; no batch statistics, so log-likelihoods are per example."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h):
        return h + self.conv2(F.elu(self.conv1(F.elu(h))))


class DenseBlock(nn.Module):
    """A dense block (Huang et al. 2017, "Densely Connected Convolutional Networks"): each of
    ``layers`` layers sees every earlier layer's output,
        h_l = [h_{l-1}, conv3x3(ELU(h_{l-1}))],   growth ``growth`` maps a layer,
    then a 1x1 transition conv back to ``channels`` maps. The DenseNet VLAE of Chen et al. (2017,
    Table 5) puts such blocks where the ResNet VLAE has residual blocks; layers and growth here are
    this suite's choice (the paper's appendix was not reached)."""

    def __init__(self, channels: int, layers: int = 4, growth: int | None = None):
        super().__init__()
        growth = int(growth or max(1, channels // 4))
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth, 3, padding=1) for i in range(layers))
        self.transition = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, h):
        for conv in self.convs:
            h = torch.cat([h, conv(F.elu(h))], dim=1)
        return self.transition(F.elu(h))


#: the residual blocks of the ResNet VAE, or dense blocks (config ``backbone``)
BLOCKS = {"resnet": ResBlock, "densenet": DenseBlock}


def block_type(name: str):
    if name not in BLOCKS:
        raise ValueError(f"backbone must be one of {', '.join(BLOCKS)}, not {name!r}")
    return BLOCKS[name]


class ResNetEncoder(nn.Module):
    """(C, H, W) -> context h (``hidden``): conv, then per resolution ``blocks`` residual blocks
    and a stride-2 downsampling conv (twice: H/4 x W/4), flattened through a linear layer."""

    def __init__(self, shape, channels: int, blocks: int, hidden: int, block=ResBlock):
        super().__init__()
        c, h, w = shape
        layers = [nn.Conv2d(c, channels, 3, padding=1)]
        for _ in range(2):
            layers += [block(channels) for _ in range(blocks)]
            layers.append(nn.Conv2d(channels, channels, 3, stride=2, padding=1))
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(channels * -(-h // 4) * -(-w // 4), hidden)

    def forward(self, x):
        return F.elu(self.out(F.elu(self.net(x)).flatten(1)))


class ResNetDecoder(nn.Module):
    """z -> features (``channels``, H, W): linear to (channels, H/4, W/4), then per resolution
    ``blocks`` residual blocks and a stride-2 transposed conv (twice), then blocks at full size."""

    def __init__(self, shape, latent: int, channels: int, blocks: int, block=ResBlock):
        super().__init__()
        _, h, w = shape
        if h % 4 or w % 4:
            raise ValueError(f"the ResNet VAE needs H and W divisible by 4, not {h}x{w}")
        self.grid = (channels, h // 4, w // 4)
        self.inp = nn.Linear(latent, channels * (h // 4) * (w // 4))
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [block(channels) for _ in range(blocks)]
            layers.append(nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1))
        layers += [block(channels) for _ in range(blocks)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        lead = z.shape[:-1]
        h = F.elu(self.inp(z.reshape(-1, z.shape[-1]))).view(-1, *self.grid)
        out = F.elu(self.net(h))
        return out.view(*lead, *out.shape[1:])
