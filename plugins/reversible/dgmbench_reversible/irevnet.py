"""i-RevNet (Jacobsen, Smeulders & Oyallon 2018, "i-RevNet: Deep invertible networks").

    x (C, H, W) -> psi^init_ds -> (x_a, x_b) -> blocks -> features -> BN-ReLU -> avg pool -> linear
                                                                    (the only non-invertible part)

psi is the invertible down-sampling (space-to-depth): every 2x2 spatial patch becomes 4
channels, a permutation of the entries. An i-RevNet block maps the pair (x_a, x_b) to

    (psi_s(x_b),  psi_s(x_a) + F(x_b))      psi_s = psi for a strided block, else the identity,
    inverse:  x_b = psi_s^-1(first),  x_a = psi_s^-1(second - F(x_b)),

with F = [BN-ReLU]-conv3x3 (stride s, to out / mult), BN-ReLU-conv3x3, dropout, BN-ReLU-conv3x3 (to
out); the network's first block has no leading BN-ReLU. A stride-1 block whose halves are to have
more channels than its input's (2 out > channels in) first zero-pads the input's channels and splits
them again (the injective i-RevNet (a); its inverse drops the padding). :meth:`IRevNet.features` is
the representation before the head and :meth:`IRevNet.invert` its exact inverse (the ``invert``
capability).

The default for 32x32 images is the authors' CIFAR network (jhjacobsen/pytorch-i-revnet at
61b4b499406675c7c2d4f35df991eb1cc3344936: ``README.md`` and ``scripts/train_cifar-10.sh``,
``python CIFAR_main.py --nBlocks 18 18 18 --nStrides 1 2 2 --nChannels 16 64 256`` with
``CIFAR_main.py``'s ``--init_ds 0``, ``--bottleneck_mult 4`` and ``dropout_rate=0.1``;
``models/iRevNet.py``): 3 stages of 18 blocks, halves of 16, 64, 256 channels, no initial
down-sampling, so the 3 input channels are padded to 32 by the first block and the features are
(512, 8, 8), 6,274,826 parameters with the head (the authors' model counts the same). The head's
BatchNorm has momentum 0.9 as theirs (``nn.BatchNorm2d(nChannels[-1]*2, momentum=0.9)``). psi orders
the 4C channels channel-major (torch's pixel_unshuffle), theirs (``models/model_utils.py``) offset-major:
a fixed channel permutation that the convolutions absorb, so the two networks are the same family
with the same initial distribution; with their order and their weights, ours gives their features
exactly (checked in float64 on random weights). Left as
ours: inputs standardized as (x - 0.5) / 0.25 (theirs: CIFAR's channel means and stds), and the
training schedule (the protocol's budget; theirs: SGD momentum 0.9, weight decay 5e-4, batch 128,
200 epochs, lr 0.1 times 0.2 at epochs 60, 120, 160).

Config keys: ``init_ds`` (the number of space-to-depth steps before the blocks; the authors'
``--init_ds 2``, a 2x2 block size, is ``init_ds = 1`` here), ``blocks``, ``strides``, ``channels``
(each stage's half width, as their ``--nChannels``; null: bijective, each stride-2 stage 4x the
last), ``mult`` (bottleneck), ``dropout``. Named configurations (``dgmbench_reversible.plugin``):
``IREVNET_CPU`` (the CPU table's bijective network: init_ds 2, 6-6-6 blocks, ending on a 2x2 map)
and ``IREVNET_SMALL`` (images under 32 pixels: init_ds 1, 2-2-2 blocks).
"""
from __future__ import annotations

import torch
from torch import nn

from .classifier import TRAIN_DEFAULTS, Classifier, Head, num_classes
from .plugin import IREVNET_AUTHORS_CIFAR, IREVNET_SMALL


class SpaceToDepth(nn.Module):
    """psi: (C, H, W) -> (4C, H/2, W/2), each 2x2 patch to 4 channels (a permutation);
    ``inverse`` puts them back. torch's pixel_unshuffle / pixel_shuffle are exactly this."""

    def forward(self, x):
        return nn.functional.pixel_unshuffle(x, 2)

    def inverse(self, y):
        return nn.functional.pixel_shuffle(y, 2)


def _conv_unit(c_in, c_out, stride, activate=True):
    pre = [nn.BatchNorm2d(c_in), nn.ReLU()] if activate else []
    return [*pre, nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)]


class IRevBlock(nn.Module):
    """One block: ``c_in`` channels in all (both halves), halves of ``out`` channels after it."""

    def __init__(self, c_in: int, out: int, stride: int, mult: int, first: bool = False, dropout: float = 0.0):
        super().__init__()
        self.pad = 2 * out - c_in if stride == 1 else 0  # injective zero channels
        half = (c_in + self.pad) // 2
        if stride == 2 and out != 4 * half:
            raise ValueError(f"irevnet: a stride-2 block turns halves of {half} channels into {4 * half}, not {out}")
        if self.pad < 0:
            raise ValueError(f"irevnet: a stride-1 block cannot shrink {c_in} channels to halves of {out}")
        mid = max(1, out // mult)
        self.psi = SpaceToDepth() if stride == 2 else None
        self.f = nn.Sequential(*_conv_unit(half, mid, stride, activate=not first), *_conv_unit(mid, mid, 1),
                               nn.Dropout(dropout), *_conv_unit(mid, out, 1))

    def forward(self, pair):
        if self.pad:
            pair = nn.functional.pad(torch.cat(pair, dim=1), (0, 0, 0, 0, 0, self.pad)).chunk(2, dim=1)
        a, b = pair
        fb = self.f(b)
        if self.psi is not None:
            a, b = self.psi(a), self.psi(b)
        return b, a + fb

    def inverse(self, pair):
        first, second = pair
        b = self.psi.inverse(first) if self.psi is not None else first
        a = second - self.f(b)
        a = self.psi.inverse(a) if self.psi is not None else a
        if self.pad:
            h = torch.cat([a, b], dim=1)
            return h[:, :h.shape[1] - self.pad].tensor_split([(h.shape[1] - self.pad) // 2], dim=1)
        return a, b


class IRevNet(Classifier):
    def __init__(self, shape, classes: int, config: dict):
        super().__init__(config)
        c, h, w = shape
        init_ds, strides, blocks = int(config["init_ds"]), list(config["strides"]), list(config["blocks"])
        widths = config.get("channels")
        downs = init_ds + sum(1 for n, s in zip(blocks, strides) if n and s == 2)
        if h % 2 ** downs or w % 2 ** downs:
            raise ValueError(f"irevnet: {h}x{w} images cannot be halved {downs} times (init_ds {init_ds}, "
                             f"strides {strides})")
        channels = c * 4 ** init_ds
        if widths is None and channels % 2:
            raise ValueError(f"irevnet: {channels} channels after psi^{init_ds} cannot be split in halves; "
                             "give 'channels' (the first block then pads them)")
        if widths is not None and len(widths) != len(blocks):
            raise ValueError(f"irevnet: channels {list(widths)} and blocks {blocks} differ in length")
        self.init_ds, self.psi, self.in_channels = init_ds, SpaceToDepth(), channels
        layers, width = [], channels // 2
        for stage, (n, stride) in enumerate(zip(blocks, strides)):
            for i in range(n):
                s = stride if i == 0 else 1
                if i == 0:
                    width = int(widths[stage]) if widths is not None else width * (4 if s == 2 else 1)
                layers.append(IRevBlock(channels, width, s, int(config["mult"]), first=not layers,
                                        dropout=float(config.get("dropout", 0.0))))
                channels = 2 * width
        self.blocks = nn.ModuleList(layers)
        self.head = Head(channels, classes)
        self.head.bn.momentum = 0.9  # the authors' head (module docstring)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation before the classifier head, (B, C 4^k, H / 2^k, W / 2^k); x in [0, 1]."""
        h = (x - 0.5) / 0.25
        for _ in range(self.init_ds):
            h = self.psi(h)
        pair = h.tensor_split([h.shape[1] // 2], dim=1)
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
    """The authors' CIFAR network for images of 32 pixels or more, ``IREVNET_SMALL`` below."""
    classes = num_classes(ds)
    base = IREVNET_SMALL if ds.shape[1] < 32 else IREVNET_AUTHORS_CIFAR
    return IRevNet(tuple(ds.shape), classes, {**base, **TRAIN_DEFAULTS, **(config or {})})
