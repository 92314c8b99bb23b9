"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders", Sec. 2): a vertical stack (rows above, all columns in reach) and a horizontal stack
(the current row, left of the pixel) with gated activations

    y = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)                      (Eq. 2, 4)

so the receptive field has no blind spot; the same L-way softmax per sub-pixel and R < G < B
channel masking as PixelCNN (see ``layers.GatedBlock``).

Class conditioning (``conditional: true``; needs a dataset with ``num_classes``): h is a learned
per-class bias in every layer. The harness's ``log_prob(x)`` has no labels, so the model also
learns a *null class* (index ``num_classes``): in training each label is replaced by the null
class with probability ``label_dropout`` (0.2), and ``log_prob(x)`` - hence the benchmark's
bits/dim - is the null-class, i.e. unconditional, model P(x | null). ``log_prob_given(x,
labels=y)`` gives the class-conditional P(x | y) and ``sample(n, labels=y)`` draws class y
(uniformly random classes if ``labels`` is omitted). Default ``conditional: false``."""
from __future__ import annotations

import torch
from torch import nn

from ..base import SoftmaxModel, check_dataset, preset_config
from ..layers import GatedBlock, masked_head

PRESETS = {  # hidden = channels per stack, layers, first kernel, kernel, 1x1 head width
    "tiny": dict(hidden=16, layers=4, first_kernel=5, kernel=3, out_hidden=64),
    "small": dict(hidden=32, layers=8, first_kernel=7, kernel=3, out_hidden=128),
    "medium": dict(hidden=96, layers=10, first_kernel=7, kernel=3, out_hidden=384),  # CIFAR, quick budget
    "paper": dict(hidden=192, layers=15, first_kernel=7, kernel=3, out_hidden=1024),
}
DEFAULTS = dict(conditional=False, label_dropout=0.2)


class GatedPixelCNN(SoftmaxModel):
    def __init__(self, shape, levels, config=None, num_classes: int | None = None):
        super().__init__(shape, levels, {**DEFAULTS, **(config or {})})
        cfg, C = self.config, self.shape[0]
        if cfg["conditional"] and not num_classes:
            raise ValueError("gated-pixelcnn: conditional: true needs a dataset with num_classes")
        self.num_classes = int(num_classes) if cfg["conditional"] else None
        labels = self.num_classes + 1 if self.num_classes else None  # + the null class
        h = int(cfg["hidden"])
        self.blocks = nn.ModuleList(
            [GatedBlock(C, h, int(cfg["first_kernel"]), C, first=True, num_labels=labels)]
            + [GatedBlock(h, h, int(cfg["kernel"]), C, num_labels=labels) for _ in range(int(cfg["layers"]) - 1)])
        self.head = masked_head(h, int(cfg["out_hidden"]), C, self.levels)

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, preset_config(PRESETS, shape, config or {}), dataset.num_classes)

    def logits(self, x, labels=None):
        if self.num_classes and labels is None:
            labels = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
        v = h = 2 * x - 1
        for block in self.blocks:
            v, h = block(v, h, labels)
        return self.head(h)

    def loss(self, x, y=None):
        labels = None
        if self.num_classes and y is not None:
            labels = y.long().to(x.device)
            drop = torch.rand(len(labels), device=x.device) < float(self.config["label_dropout"])
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        return -self.log_prob_given(x, labels=labels).mean()

    def sample_context(self, n, labels=None):
        if self.num_classes:
            labels = (torch.randint(self.num_classes, (n,), device=self.device) if labels is None
                      else torch.as_tensor(labels, device=self.device).long().expand(n))
        return {"labels": labels}

    def sample(self, n, cached=None, labels=None):
        """n images; class-conditional models draw ``labels`` (default: uniformly random classes)."""
        return super().sample(n, cached, labels=labels)
