"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
Sec. 3.4-3.5): a k x k convolution with mask A, residual blocks of mask-B convolutions, two 1x1
mask-B layers and an L-way softmax per sub-pixel,

    P(x) = prod_{i,j} P(R_ij | x_<ij) P(G_ij | x_<ij, R_ij) P(B_ij | x_<ij, R_ij, G_ij).

Masked k x k convolutions stacked see a triangle above-left of each pixel: the pixels up and to
the right beyond it are a *blind spot* (Gated PixelCNN removes it)."""
from __future__ import annotations

from torch import nn

from ..base import SoftmaxModel, check_dataset, preset_config
from ..layers import MaskedConv2d, ResidualBlock, masked_head

PRESETS = {  # hidden = h (residual stream 2h), blocks, first kernel, kernel, 1x1 head width
    "tiny": dict(hidden=16, blocks=3, first_kernel=5, kernel=3, out_hidden=64),
    "small": dict(hidden=32, blocks=5, first_kernel=7, kernel=3, out_hidden=128),
    "medium": dict(hidden=96, blocks=8, first_kernel=7, kernel=3, out_hidden=384),  # CIFAR, quick budget
    "paper": dict(hidden=128, blocks=15, first_kernel=7, kernel=3, out_hidden=1024),
}


class PixelCNN(SoftmaxModel):
    def __init__(self, shape, levels, config=None):
        super().__init__(shape, levels, config)
        cfg, C = self.config, self.shape[0]
        h = int(cfg["hidden"])
        self.net = nn.Sequential(
            MaskedConv2d(C, 2 * h, int(cfg["first_kernel"]), "A", C),
            *[ResidualBlock(h, int(cfg["kernel"]), C) for _ in range(int(cfg["blocks"]))],
            masked_head(2 * h, int(cfg["out_hidden"]), C, self.levels))

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, preset_config(PRESETS, shape, config or {}))

    def logits(self, x, **context):
        return self.net(2 * x - 1)
