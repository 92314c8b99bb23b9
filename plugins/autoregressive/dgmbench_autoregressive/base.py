"""What the three autoregressive models share: the discrete likelihood convention, size presets,
and the pixel-by-pixel sampler (naive and cached).

log P(x) = sum_{i,j,c} log P(x_{ijc} | x_<(i,j,c)) with x = k/(L-1) in [0, 1] the dataset's levels
(``likelihood = "discrete"``: the nll metric uses it as is, bits/dim = -log P / (D ln 2)).

Sampling draws pixels in raster order, one network pass per pixel (PixelCNN++, whose channel
dependence is closed-form) or per sub-pixel (the softmax models). The *cached* sampler
(default; ``cached_sampling: false`` in the config or ``sample(n, cached=False)`` for the naive
one) keeps the image drawn so far and, because every output at row i depends only on input rows
<= i, runs the network on rows [0, r) only, r = i + 1 rounded up to ``row_multiple`` (the total
downsampling factor: 4 for PixelCNN++ with 3 scales, 1 otherwise). Both samplers draw the same
images from the same seed (up to float rounding; exact in the float64 test); the cached one does
about half the work on a square image.
Both compute PixelCNN++'s weight-normalized weights once per call (``parametrize.cached``).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch.nn.utils import parametrize

from dgmbench.model import Model

from . import logistic
from .layers import full_precision


def preset_config(presets: Mapping[str, Mapping[str, Any]], shape, config: Mapping[str, Any]) -> dict:
    """The size preset (``size``: tiny / small / medium / paper, ``auto`` by default: tiny for
    at most 16x16 pixels, small for one channel, medium otherwise) under explicit config keys."""
    C, H, W = shape
    size = config.get("size", "auto")
    if size == "auto":
        size = "tiny" if H * W <= 256 else "small" if C == 1 else "medium"
    if size not in presets:
        raise ValueError(f"unknown size {size!r}; choose one of auto, {', '.join(presets)}")
    return {**presets[size], **{k: v for k, v in config.items() if v is not None}, "size": size}


def check_dataset(dataset) -> tuple[tuple[int, int, int], int]:
    if dataset.levels is None or len(dataset.shape) != 3:
        raise ValueError(f"autoregressive image models need images with discrete levels; {dataset.name!r} "
                         f"has shape {tuple(dataset.shape)} and levels {dataset.levels}")
    return tuple(dataset.shape), int(dataset.levels)


class AutoregressiveImageModel(Model):
    """Base class: subclasses define :meth:`conditionals` (the per-sub-pixel distribution
    parameters), :meth:`log_prob` and :meth:`sample_pixel`."""

    likelihood = "discrete"
    row_multiple = 1

    def __init__(self, shape, levels: int, config=None):
        super().__init__(config)
        self.shape, self.levels = tuple(shape), int(levels)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_levels(self, x: torch.Tensor) -> torch.Tensor:
        """Level indices k = round(x (L-1)) in {0, ..., L-1}."""
        return torch.round(x * (self.levels - 1)).long().clamp(0, self.levels - 1)

    def conditionals(self, x: torch.Tensor, **context) -> torch.Tensor:
        """Parameters of every sub-pixel's conditional P(x_ijc | x_<(i,j,c)), shape (B, C, H, W, P).
        Entry (i, j, c) must not depend on x_ijc or anything after it (the tests check this)."""
        raise NotImplementedError

    def sample_pixel(self, x: torch.Tensor, i: int, j: int, **context) -> torch.Tensor:
        """Draw pixel (i, j) of ``x`` (rows cropped as the sampler sees fit) in place; returns (B, C)."""
        raise NotImplementedError

    def rows_needed(self, i: int, cached: bool) -> int:
        H = self.shape[1]
        return min(H, math.ceil((i + 1) / self.row_multiple) * self.row_multiple) if cached else H

    def sample_context(self, n: int, **context) -> dict:
        """Per-sample inputs other than the image (class labels); none by default."""
        return context

    @torch.no_grad()
    def sample(self, n: int, cached: bool | None = None, **context) -> torch.Tensor:
        """n images (n, C, H, W) on the levels grid k/(L-1), drawn in raster order."""
        cached = bool(self.config.get("cached_sampling", True)) if cached is None else cached
        was_training = self.training
        self.eval()
        try:
            with parametrize.cached():  # weight-normalized weights computed once per call, not per pixel
                C, H, W = self.shape
                ref = next(self.parameters())
                x = torch.zeros(n, C, H, W, device=ref.device, dtype=ref.dtype)
                context = self.sample_context(n, **context)
                for i in range(H):
                    rows = self.rows_needed(i, cached)
                    for j in range(W):
                        x[:, :, i, j] = self.sample_pixel(x[:, :, :rows], i, j, **context)
        finally:
            self.train(was_training)
        return x


class SoftmaxModel(AutoregressiveImageModel):
    """An L-way softmax per sub-pixel (PixelCNN, Gated PixelCNN): ``conditionals`` are the logits
    (B, C, H, W, L) of a network whose output channel c*L + l belongs to colour group c."""

    def logits(self, x: torch.Tensor, **context) -> torch.Tensor:
        """Network output (B, C*L, H, W) for x in [0, 1]."""
        raise NotImplementedError

    def conditionals(self, x, **context):
        B, C, H, W = x.shape
        return self.logits(x, **context).view(B, C, self.levels, H, W).permute(0, 1, 3, 4, 2)

    def log_prob_given(self, x: torch.Tensor, **context) -> torch.Tensor:
        logp = full_precision(self.conditionals(x, **context)).log_softmax(-1)
        return logp.gather(-1, self.to_levels(x)[..., None]).squeeze(-1).flatten(1).sum(1)

    def log_prob(self, x):
        return self.log_prob_given(x)

    def sample_pixel(self, x, i, j, **context):
        for c in range(self.shape[0]):  # R, then G given R, then B given R, G: one pass each
            logits = full_precision(self.conditionals(x, **context)[:, c, i, j])
            k = torch.distributions.Categorical(logits=logits).sample()
            x[:, c, i, j] = k.to(x.dtype) / (self.levels - 1)
        return x[:, :, i, j]


class MixtureModel(AutoregressiveImageModel):
    """A discretized logistic mixture per whole pixel with linear RGB dependence (PixelCNN++'s
    likelihood, ``logistic.py``; PixelSNAIL uses the same): subclasses define
    :meth:`network_output`, (B, num_params, H, W) for x in [0, 1], whose output at (i, j) sees
    pixels before (i, j) only. One network pass per pixel when sampling; R, G, B follow in closed form."""

    def __init__(self, shape, levels: int, config=None, mixtures: int = 10):
        super().__init__(shape, levels, config)
        self.mixtures = int(mixtures)

    def network_output(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def params(self, x: torch.Tensor) -> logistic.MixtureParams:
        return logistic.MixtureParams.from_output(full_precision(self.network_output(x)), self.shape[0],
                                                  self.mixtures)

    def to_signed(self, x: torch.Tensor) -> torch.Tensor:
        """Levels on the [-1, 1] scale: 2k/(L-1) - 1."""
        return 2 * self.to_levels(x).to(x.dtype) / (self.levels - 1) - 1

    def log_prob(self, x):
        return logistic.log_prob_pixels(self.to_signed(x), self.params(x), self.levels).flatten(1).sum(1)

    def conditionals(self, x, **context):
        """Sub-pixel (i, j, c)'s conditional as [log w_ck, mu~_ck, log s_ck] over k, (B, C, H, W, 3K)
        (x is not rounded to the levels here, so that gradients with respect to x exist)."""
        p, xs = self.params(x), 2 * x - 1
        return torch.cat([logistic.conditional_log_weights(xs, p, self.levels),
                          logistic.conditioned_means(xs, p), p.log_scales], dim=-1)

    def sample_pixel(self, x, i, j, **context):
        v = logistic.sample_pixel(self.params(x).at(i, j), self.levels)
        x[:, :, i, j] = torch.round((v + 1) / 2 * (self.levels - 1)) / (self.levels - 1)
        return x[:, :, i, j]
