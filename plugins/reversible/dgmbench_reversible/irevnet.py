"""i-RevNet (Jacobsen, Smeulders & Oyallon 2018, "i-RevNet: Deep invertible networks"), the
bijective variant (b): no information is discarded up to the final projection onto the classes.

    x (C, H, W) -> psi^init_ds -> (x_a, x_b) -> blocks -> features (C 4^k, H / 2^k, W / 2^k)
                -> BN-ReLU -> avg pool -> linear       (the only non-invertible part)

psi is the invertible down-sampling (space-to-depth): every 2x2 spatial patch becomes 4
channels, a permutation of the entries. An i-RevNet block maps the pair (x_a, x_b) to

    (psi_s(x_b),  psi_s(x_a) + F(x_b))      psi_s = psi for a strided block, else the identity,
    inverse:  x_b = psi_s^-1(first),  x_a = psi_s^-1(second - F(x_b)),

with F = BN-ReLU-conv3x3 (stride s, to out / mult), BN-ReLU-conv3x3, BN-ReLU-conv3x3 (to out).
Channel counts follow from the input (bijective: C H W numbers at every layer).
:meth:`IRevNet.features` is the representation before the head and :meth:`IRevNet.invert` its
exact inverse (the ``invert`` capability). Config keys: init_ds, blocks, strides, mult.
Defaults: the ImageNet model's init_ds = 2 and mult = 4 with 3 stages of 6 blocks for 32x32
inputs (CIFAR), 1 for smaller images.
"""
from __future__ import annotations

import torch
from torch import nn

from .classifier import TRAIN_DEFAULTS, Classifier, Head, num_classes


class SpaceToDepth(nn.Module):
    """psi: (C, H, W) -> (4C, H/2, W/2), each 2x2 patch to 4 channels (a permutation);
    ``inverse`` puts them back. torch's pixel_unshuffle / pixel_shuffle are exactly this."""

    def forward(self, x):
        return nn.functional.pixel_unshuffle(x, 2)

    def inverse(self, y):
        return nn.functional.pixel_shuffle(y, 2)


def _conv_unit(c_in, c_out, stride):
    return [nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)]


class IRevBlock(nn.Module):
    def __init__(self, c_half: int, stride: int, mult: int):
        super().__init__()
        out = c_half * (4 if stride == 2 else 1)
        mid = max(1, out // mult)
        self.psi = SpaceToDepth() if stride == 2 else None
        self.f = nn.Sequential(*_conv_unit(c_half, mid, stride), *_conv_unit(mid, mid, 1), *_conv_unit(mid, out, 1))

    def forward(self, pair):
        a, b = pair
        fb = self.f(b)
        if self.psi is not None:
            a, b = self.psi(a), self.psi(b)
        return b, a + fb

    def inverse(self, pair):
        first, second = pair
        b = self.psi.inverse(first) if self.psi is not None else first
        a = second - self.f(b)
        return (self.psi.inverse(a) if self.psi is not None else a), b


class IRevNet(Classifier):
    def __init__(self, shape, classes: int, config: dict):
        super().__init__(config)
        c, h, w = shape
        init_ds, strides, blocks = int(config["init_ds"]), list(config["strides"]), list(config["blocks"])
        downs = init_ds + sum(1 for n, s in zip(blocks, strides) if n and s == 2)
        if h % 2 ** downs or w % 2 ** downs:
            raise ValueError(f"irevnet: {h}x{w} images cannot be halved {downs} times (init_ds {init_ds}, "
                             f"strides {strides})")
        channels = c * 4 ** init_ds
        if channels % 2:
            raise ValueError(f"irevnet: {channels} channels after psi^{init_ds} cannot be split in halves")
        self.init_ds, self.psi = init_ds, SpaceToDepth()
        half, layers = channels // 2, []
        for n, stride in zip(blocks, strides):
            for i in range(n):
                s = stride if i == 0 else 1
                layers.append(IRevBlock(half, s, int(config["mult"])))
                half *= 4 if s == 2 else 1
        self.blocks = nn.ModuleList(layers)
        self.head = Head(2 * half, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation before the classifier head, (B, C 4^k, H / 2^k, W / 2^k); x in [0, 1]."""
        h = (x - 0.5) / 0.25
        for _ in range(self.init_ds):
            h = self.psi(h)
        pair = h.chunk(2, dim=1)
        for block in self.blocks:
            pair = block(pair)
        return torch.cat(pair, dim=1)

    def invert(self, z: torch.Tensor) -> torch.Tensor:
        """The input x with ``features(x) == z``."""
        pair = z.chunk(2, dim=1)
        for block in reversed(self.blocks):
            pair = block.inverse(pair)
        h = torch.cat(pair, dim=1)
        for _ in range(self.init_ds):
            h = self.psi.inverse(h)
        return h * 0.25 + 0.5

    def classify(self, x):
        return self.head(self.features(x))


def build(ds, config: dict) -> IRevNet:
    classes = num_classes(ds)
    small = ds.shape[1] < 32
    cfg = {"init_ds": 1 if small else 2, "blocks": [2, 2, 2] if small else [6, 6, 6], "strides": [1, 2, 2],
           "mult": 4, **TRAIN_DEFAULTS, **(config or {})}
    return IRevNet(tuple(ds.shape), classes, cfg)
