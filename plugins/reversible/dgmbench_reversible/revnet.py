"""RevNets (Gomez, Ren, Urtasun & Grosse 2017): a ResNet whose residual units are reversible
blocks (:mod:`.reversible`), trained with the backward pass that reconstructs activations.

    x -> conv3x3 (filters[0]) -> stage 1 -> stage 2 -> stage 3 -> BN-ReLU -> avg pool -> linear,
    stage s: one downsampling unit, then ``units[s] - 1`` reversible blocks
             y1 = x1 + F(x2), y2 = x2 + G(y1) on the channel halves.

The downsampling unit has the same two functions but a stride (1, 2, 2)[s] and a change of width,
and shortcuts S (pooling + zero channels, or a 1x1 projection for bottlenecks):
y1 = S(x1) + F(x2), y2 = S(x2) + G(y1). It discards information, so it is not reversible and
plain autograd stores its activations -- the only activations besides one per stage, as in the
paper ("activations must be stored explicitly for all non-reversible layers").

Depth = 2 + 3 units x 2 functions x (2 convolutions, or 3 for bottlenecks): RevNet-38 = 3 basic
units per stage with filters 32-32-64-112, RevNet-110 = 9 basic (32-32-64-128), RevNet-164 = 9
bottleneck (32-32-64-128, x4 outputs) -- the authors' released CIFAR configurations.
Config keys: depth (38 | 110 | 164) or units, bottleneck, filters; ``memory_saving`` (default
true): false trains the same blocks with plain autograd (stores every activation).
"""
from __future__ import annotations

import torch
from torch import nn

from .classifier import TRAIN_DEFAULTS, Classifier, Head, Shortcut, num_classes, residual_function
from .reversible import ReversibleBlock, reversible_sequence

DEPTHS = {38: ([3, 3, 3], False, [32, 32, 64, 112]), 110: ([9, 9, 9], False, [32, 32, 64, 128]),
          164: ([9, 9, 9], True, [32, 32, 64, 128])}
DEFAULTS = {"depth": 38, "strides": [1, 2, 2], "memory_saving": True, **TRAIN_DEFAULTS}


def architecture(cfg: dict) -> tuple[list, bool, list]:
    depth = int(cfg["depth"])
    if cfg.get("units") is None and depth not in DEPTHS:
        raise ValueError(f"revnet: depth {depth} is not one of {sorted(DEPTHS)} (or give units=[..])")
    units, bottleneck, filters = DEPTHS.get(depth, (None, False, [32, 32, 64, 128]))
    return (list(cfg.get("units") or units), bool(cfg.get("bottleneck", bottleneck)),
            list(cfg.get("filters") or filters))


class DownsamplingUnit(nn.Module):
    """y1 = S(x1) + F(x2), y2 = S(x2) + G(y1): strided, widening, not invertible."""

    def __init__(self, c_in, c_out, stride, bottleneck):
        super().__init__()
        h_in, h_out = c_in // 2, c_out // 2
        self.f = residual_function(h_in, h_out, stride, bottleneck)
        self.g = residual_function(h_out, h_out, 1, bottleneck)
        self.s1 = Shortcut(h_in, h_out, stride, project=bottleneck)
        self.s2 = Shortcut(h_in, h_out, stride, project=bottleneck)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        y1 = self.s1(x1) + self.f(x2)
        return torch.cat([y1, self.s2(x2) + self.g(y1)], dim=1)


class Stage(nn.Module):
    def __init__(self, c_in, c_out, n, stride, bottleneck, memory_saving):
        super().__init__()
        self.down = DownsamplingUnit(c_in, c_out, stride, bottleneck)
        h = c_out // 2
        self.blocks = nn.ModuleList(
            ReversibleBlock(residual_function(h, h, 1, bottleneck), residual_function(h, h, 1, bottleneck))
            for _ in range(n - 1))
        self.memory_saving = memory_saving

    def forward(self, x):
        return reversible_sequence(self.down(x), self.blocks, self.memory_saving)


class RevNet(Classifier):
    def __init__(self, in_channels: int, classes: int, config: dict):
        super().__init__(config)
        units, bottleneck, filters = architecture(config)
        widths = [filters[0]] + [f * (4 if bottleneck else 1) for f in filters[1:]]
        if any(w % 2 for w in widths):
            raise ValueError(f"revnet: widths {widths} must be even (two channel halves)")
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.stages = nn.ModuleList(
            Stage(widths[s], widths[s + 1], n, stride, bottleneck, bool(config.get("memory_saving", True)))
            for s, (n, stride) in enumerate(zip(units, config["strides"])))
        self.head = Head(widths[-1], classes)

    @property
    def memory_saving(self) -> bool:
        return all(s.memory_saving for s in self.stages)

    @memory_saving.setter
    def memory_saving(self, on: bool) -> None:
        for s in self.stages:
            s.memory_saving = bool(on)

    def logits(self, x):
        h = self.stem(x)
        for stage in self.stages:
            h = stage(h)
        return self.head(h)


def build(ds, config: dict) -> RevNet:
    cfg = {**DEFAULTS, **(config or {})}
    return RevNet(ds.shape[0], num_classes(ds), cfg)
