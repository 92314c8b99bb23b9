"""Data augmentation for classifiers that a plugin's training step can call (seeded).

The standard CIFAR augmentation (He et al. 2016, "Deep residual learning", Sec. 4.2): pad 4 zero
pixels on each side, take a random crop of the original size, and flip it horizontally with
probability 1/2 -- drawn independently per image. Random numbers come from ``generator`` when one
is given, else from torch's global generator, which the harness seeds per run (and a resumed run
restores), so a run's augmentation is reproducible. The crop is done by indexing, vectorized over
the batch (torchvision's ``RandomCrop`` draws one crop per call, i.e. per batch, unless looped).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly crop (after zero-padding ``padding`` pixels) and horizontally flip each image of
    ``x`` (B, C, H, W); returns a new tensor of the same shape, on the same device."""
    b, c, h, w = x.shape
    kw = {"generator": generator} if generator is not None else {}
    dy = torch.randint(0, 2 * padding + 1, (b,), **kw).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), **kw).to(x.device)
    mirror = (torch.rand(b, **kw) < 0.5).to(x.device) if flip else torch.zeros(b, dtype=torch.bool, device=x.device)
    padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
    rows = dy[:, None] + torch.arange(h, device=x.device)[None]                       # (B, H)
    cols_fwd = torch.arange(w, device=x.device)[None].expand(b, w)
    cols = torch.where(mirror[:, None], cols_fwd.flip(1), cols_fwd) + dx[:, None]     # (B, W)
    idx_b = torch.arange(b, device=x.device)[:, None, None, None]
    idx_c = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[idx_b, idx_c, rows[:, None, :, None], cols[:, None, None, :]]
