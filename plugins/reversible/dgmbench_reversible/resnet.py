"""CIFAR ResNets (He, Zhang, Ren & Sun 2016), in the pre-activation form of He et al. 2016b
("Identity mappings in deep residual networks") that the RevNet authors' code compares against.

    x -> conv3x3 (filters[0]) -> stage 1 -> stage 2 -> stage 3 -> BN-ReLU -> avg pool -> linear,
    stage s: ``units[s]`` residual units  h + F(h), the first with stride (1, 2, 2)[s];
    F basic: BN-ReLU-conv3x3, BN-ReLU-conv3x3; bottleneck: 1x1 -> 3x3 -> 1x1 with 4x expansion.

Depth = 2 + 3 units x (2 convolutions, or 3 for bottlenecks): ResNet-32 = 5 basic units per
stage, ResNet-110 = 18 basic, ResNet-164 = 18 bottleneck; filters 16-16-32-64 (x4 outputs for
bottlenecks). Config keys: depth (32 | 110 | 164), or units, bottleneck, filters directly.
"""
from __future__ import annotations

from torch import nn

from .classifier import TRAIN_DEFAULTS, Classifier, Head, Shortcut, num_classes, residual_function

DEPTHS = {32: ([5, 5, 5], False), 110: ([18, 18, 18], False), 164: ([18, 18, 18], True)}
DEFAULTS = {"depth": 32, "filters": [16, 16, 32, 64], "strides": [1, 2, 2], **TRAIN_DEFAULTS}


def architecture(cfg: dict) -> tuple[list, bool]:
    if cfg.get("units") is not None:
        return list(cfg["units"]), bool(cfg.get("bottleneck", False))
    depth = int(cfg["depth"])
    if depth not in DEPTHS:
        raise ValueError(f"resnet: depth {depth} is not one of {sorted(DEPTHS)} (or give units=[..])")
    units, bottleneck = DEPTHS[depth]
    return units, bool(cfg.get("bottleneck", bottleneck))


class ResidualUnit(nn.Module):
    def __init__(self, c_in, c_out, stride, bottleneck):
        super().__init__()
        self.f = residual_function(c_in, c_out, stride, bottleneck)
        self.shortcut = Shortcut(c_in, c_out, stride, project=bottleneck)

    def forward(self, h):
        return self.shortcut(h) + self.f(h)


class ResNet(Classifier):
    def __init__(self, in_channels: int, classes: int, config: dict):
        super().__init__(config)
        units, bottleneck = architecture(config)
        filters = list(config["filters"])
        widths = [filters[0]] + [f * (4 if bottleneck else 1) for f in filters[1:]]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        layers, c = [], widths[0]
        for s, (n, stride) in enumerate(zip(units, config["strides"])):
            for i in range(n):
                layers.append(ResidualUnit(c, widths[s + 1], stride if i == 0 else 1, bottleneck))
                c = widths[s + 1]
        self.body = nn.Sequential(*layers)
        self.head = Head(c, classes)

    def logits(self, x):
        return self.head(self.body(self.stem(x)))


def build(ds, config: dict) -> ResNet:
    cfg = {**DEFAULTS, **(config or {})}
    return ResNet(ds.shape[0], num_classes(ds), cfg)
