"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017):

* a discretized logistic mixture per pixel with linear RGB dependence (``logistic.py``, Sec. 2.1-2.2);
* whole-pixel conditioning (Sec. 2.2): the network sees only pixels before (i, j); the channels
  of pixel (i, j) depend on each other through the mixture's means, not through the network;
* downsampling by stride-2 convolutions and upsampling by transposed ones, over ``scales``
  resolutions (3 in the paper: 32, 16, 8), with shortcut connections from each layer of the
  up pass (coarsening) to the matching layer of the down pass (Sec. 2.3-2.4, Fig. 2);
* two streams, down-shifted (rows above) and down-right-shifted (rows above and left in the
  row), built from gated ResNet blocks (``layers.GatedResnet``) with dropout (Sec. 2.5);
* weight normalization; an extra all-ones input channel marks the zero padding.

Sampling: one network pass per pixel, then R, G, B in closed form (``logistic.sample_pixel``).
The cached sampler runs the network only on rows [0, r), r = i + 1 rounded up to 2^(scales-1)
so the strided layers see whole blocks (see ``base.py``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import logistic
from ..base import MixtureModel, check_dataset, preset_config
from ..layers import (
    DownRightShiftedConv2d,
    DownRightShiftedDeconv2d,
    DownShiftedConv2d,
    DownShiftedDeconv2d,
    GatedResnet,
    _wn,
    down_shift,
    right_shift,
)

PRESETS = {  # nr_filters, nr_resnet (blocks per scale), mixture components, dropout
    "tiny": dict(filters=16, resnets=1, mixtures=3, dropout=0.0),
    "small": dict(filters=32, resnets=2, mixtures=5, dropout=0.1),
    "medium": dict(filters=80, resnets=3, mixtures=10, dropout=0.1),  # CIFAR, quick budget
    "paper": dict(filters=160, resnets=5, mixtures=10, dropout=0.5),
}
DEFAULTS = dict(scales=3)


def num_scales(H: int, W: int, cap: int) -> int:
    """Resolutions used: at most ``cap``, while H and W stay divisible by 2^(scales-1)."""
    s = 1
    while s < cap and H % 2 ** s == 0 and W % 2 ** s == 0:
        s += 1
    return s


class PixelCNNpp(MixtureModel):
    def __init__(self, shape, levels, config=None):
        config = {**DEFAULTS, **(config or {})}
        super().__init__(shape, levels, config, int(config["mixtures"]))
        cfg = self.config
        C, H, W = self.shape
        nf, R, d = int(cfg["filters"]), int(cfg["resnets"]), float(cfg["dropout"])
        self.scales = S = num_scales(H, W, int(cfg["scales"]))
        self.row_multiple = 2 ** (S - 1)
        self.u_init = DownShiftedConv2d(C + 1, nf, (2, 3))
        self.ul_init = nn.ModuleList([DownShiftedConv2d(C + 1, nf, (1, 3)), DownRightShiftedConv2d(C + 1, nf, (2, 1))])
        rep = lambda n, f: nn.ModuleList([f() for _ in range(n)])
        self.up_u = rep(S, lambda: rep(R, lambda: GatedResnet(nf, DownShiftedConv2d, 0, d)))
        self.up_ul = rep(S, lambda: rep(R, lambda: GatedResnet(nf, DownRightShiftedConv2d, 1, d)))
        self.down_u = nn.ModuleList([rep(R + (s > 0), lambda: GatedResnet(nf, DownShiftedConv2d, 1, d))
                                     for s in range(S)])
        self.down_ul = nn.ModuleList([rep(R + (s > 0), lambda: GatedResnet(nf, DownRightShiftedConv2d, 2, d))
                                      for s in range(S)])
        self.downsize_u = rep(S - 1, lambda: DownShiftedConv2d(nf, nf, (2, 3), stride=2))
        self.downsize_ul = rep(S - 1, lambda: DownRightShiftedConv2d(nf, nf, (2, 2), stride=2))
        self.upsize_u = rep(S - 1, lambda: DownShiftedDeconv2d(nf, nf))
        self.upsize_ul = rep(S - 1, lambda: DownRightShiftedDeconv2d(nf, nf))
        self.out = _wn(nn.Conv2d(nf, logistic.num_params(C, self.mixtures), 1))

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, preset_config(PRESETS, shape, config or {}))

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_params, H, W) for x in [0, 1]; output (i, j) sees pixels before (i, j) only."""
        x = torch.cat([2 * x - 1, torch.ones_like(x[:, :1])], dim=1)
        us = [down_shift(self.u_init(x))]
        uls = [down_shift(self.ul_init[0](x)) + right_shift(self.ul_init[1](x))]
        for s in range(self.scales):  # up pass (coarsening), every output kept for the shortcuts
            for block_u, block_ul in zip(self.up_u[s], self.up_ul[s]):
                us.append(block_u(us[-1]))
                uls.append(block_ul(uls[-1], a=us[-1]))
            if s < self.scales - 1:
                us.append(self.downsize_u[s](us[-1]))
                uls.append(self.downsize_ul[s](uls[-1]))
        u, ul = us.pop(), uls.pop()
        for s in range(self.scales):  # down pass (refining), consuming the shortcuts in reverse
            for block_u, block_ul in zip(self.down_u[s], self.down_ul[s]):
                u = block_u(u, a=us.pop())
                ul = block_ul(ul, a=torch.cat([u, uls.pop()], dim=1))
            if s < self.scales - 1:
                u, ul = self.upsize_u[s](u), self.upsize_ul[s](ul)
        assert not us and not uls
        return self.out(F.elu(ul))

    network_output = network
