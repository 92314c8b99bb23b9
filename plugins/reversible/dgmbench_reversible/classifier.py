"""What the three classifiers share: the ``classify`` capability, the training objective with
crop-and-flip augmentation, and the papers' SGD schedule.

Training (He et al. 2016; the RevNet authors' released CIFAR configuration, used for both ResNets
and RevNets there): SGD with momentum 0.9, weight decay ``weight_decay`` (2e-4) on the weights,
learning rate ``lr`` (the budget's; 0.1 in ``full``) divided by 10 at each step in
``lr_milestones`` (40,000 and 60,000 of 80,000 steps of batch 100), cross-entropy on randomly
cropped (4-pixel zero padding) and horizontally flipped images (:mod:`dgmbench.augment`).
The fast recipe of the ``gpu`` budget (one for every architecture, so ResNet against RevNet
stays a fair comparison): ``lr_schedule="onecycle"`` -- the learning rate rises linearly from
``lr`` / 25 to ``lr`` over the first 25 % of ``onecycle_steps``, then falls linearly to ``lr`` / 2,500
(Smith & Topin 2019's one-cycle policy, as torch.optim.lr_scheduler.OneCycleLR with linear
annealing) -- with ``label_smoothing`` 0.1 on the cross-entropy (Szegedy et al. 2016) and large
batches. Inputs in [0, 1] are standardized as (x - 0.5) / 0.25. The classifiers train in float32 even where
the harness offers bf16 autocast: a RevNet's backward reconstructs activations by subtraction,
which bf16 rounding would spoil, and the three families are compared under one precision.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.augment import random_crop_flip
from dgmbench.model import Model

TRAIN_DEFAULTS = {"weight_decay": 2e-4, "momentum": 0.9, "lr_milestones": [40000, 60000], "augment": True,
                  "crop_padding": 4, "lr_schedule": "milestones", "onecycle_steps": 0, "label_smoothing": 0.0}


def preact(c_in: int, c_out: int, kernel: int, stride: int = 1, activate: bool = True) -> list[nn.Module]:
    """BN-ReLU-conv (pre-activation, He et al. 2016 "Identity mappings in deep residual networks")."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
    return [nn.BatchNorm2d(c_in), nn.ReLU(), conv] if activate else [conv]


def residual_function(c_in: int, c_out: int, stride: int, bottleneck: bool, activate: bool = True) -> nn.Sequential:
    """Basic: two 3x3 convolutions. Bottleneck: 1x1 (to c_out / 4), 3x3, 1x1 (to c_out)."""
    if not bottleneck:
        return nn.Sequential(*preact(c_in, c_out, 3, stride, activate), *preact(c_out, c_out, 3))
    mid = max(1, c_out // 4)
    return nn.Sequential(*preact(c_in, mid, 1, 1, activate), *preact(mid, mid, 3, stride), *preact(mid, c_out, 1))


class Shortcut(nn.Module):
    """The identity, or for a change of shape: a 1x1 strided projection (bottleneck nets), else
    average pooling plus zero channels (He et al.'s option A, as in the RevNet authors' code)."""

    def __init__(self, c_in: int, c_out: int, stride: int, project: bool):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.proj = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if project and (c_in != c_out or stride > 1) else None

    def forward(self, x):
        if self.proj is not None:
            return self.proj(x)
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride)
        if self.c_out > self.c_in:
            x = F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in))
        return x


class Head(nn.Module):
    """BN-ReLU, global average pooling, linear map to the class logits."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.bn, self.fc = nn.BatchNorm2d(channels), nn.Linear(channels, classes)

    def forward(self, h):
        return self.fc(F.relu(self.bn(h)).mean(dim=(2, 3)))


def num_classes(ds) -> int:
    if not ds.num_classes:
        raise ValueError(f"dataset {ds.name!r} has no class labels")
    if len(ds.shape) != 3:
        raise ValueError(f"images (C, H, W) are needed, not shape {tuple(ds.shape)}")
    return int(ds.num_classes)


class Classifier(Model):
    """Base class: subclasses define ``logits(x)`` on standardized inputs."""

    likelihood = "none"

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits((x - 0.5) / 0.25)

    def loss(self, x, y=None):
        if y is None:
            raise ValueError("a classifier needs labels")
        if self.config.get("augment", True) and self.training:
            x = random_crop_flip(x, padding=int(self.config.get("crop_padding", 4)))
        return F.cross_entropy(self.classify(x), y, label_smoothing=float(self.config.get("label_smoothing", 0.0)))

    def configure_optimizers(self, lr: float):
        decay = [p for n, p in self.named_parameters() if p.ndim > 1]  # conv and linear weights
        rest = [p for n, p in self.named_parameters() if p.ndim <= 1]   # biases, BatchNorm scales
        self.base_lr = lr
        return [torch.optim.SGD([{"params": decay, "weight_decay": float(self.config.get("weight_decay", 2e-4))},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=lr, momentum=float(self.config.get("momentum", 0.9)))]

    def lr_at(self, step: int, base: float) -> float:
        """``base`` divided by 10 for each milestone passed (steps counted from 0), or the one-cycle
        schedule over ``onecycle_steps`` (see the module docstring)."""
        if self.config.get("lr_schedule", "milestones") == "onecycle":
            total = max(1, int(self.config.get("onecycle_steps") or 1))
            up = max(1, int(0.25 * total))
            if step < up:
                return base / 25 + (base - base / 25) * step / up
            return base + (base / 2500 - base) * min(1.0, (step - up) / max(1, total - up))
        passed = sum(step >= m for m in self.config.get("lr_milestones", []))
        return base * 0.1 ** passed

    def train_step(self, x, y, optimizers, step, autocast):
        (opt,) = optimizers
        lr = self.lr_at(step, getattr(self, "base_lr", opt.param_groups[0]["lr"]))
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = self.loss(x, y)  # float32 on purpose (see the module docstring)
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "lr": torch.tensor(lr, device=loss.device)}
