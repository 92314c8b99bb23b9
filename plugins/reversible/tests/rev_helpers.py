"""Helpers for the reversible-network tests."""
from __future__ import annotations

import torch


def randomize(module: torch.nn.Module, std: float = 0.1, seed: int = 1) -> torch.nn.Module:
    """Perturb every parameter and BatchNorm running statistic, so no layer is trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.add_(torch.randn(b.shape, generator=g, dtype=b.dtype) * std)
            elif name.endswith("running_var"):
                b.mul_(1 + torch.rand(b.shape, generator=g, dtype=b.dtype))
    return module
