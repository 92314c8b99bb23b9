"""Helpers for the flow tests: randomized weights, brute-force Jacobians, grid integrals."""
from __future__ import annotations

import torch


def randomize(module: torch.nn.Module, std: float = 0.05, seed: int = 1) -> torch.nn.Module:
    """Add N(0, std^2) noise to every parameter, so that no layer is the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return module


def brute_force_logdet(flow, x: torch.Tensor) -> torch.Tensor:
    """log|det dz/dx| per example from the full Jacobian (torch.autograd.functional.jacobian)."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0].reshape(-1), xi)
        out.append(torch.linalg.slogdet(jac.reshape(xi.numel(), xi.numel()))[1])
    return torch.stack(out)


def grid_mass(log_prob, lo: float, hi: float, n: int = 400) -> float:
    """The integral of exp(log_prob) over [lo, hi]^2 by the midpoint rule on an n x n grid."""
    h = (hi - lo) / n
    t = lo + h * (torch.arange(n, dtype=torch.float64) + 0.5)
    xy = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        return float(torch.exp(log_prob(xy)).sum() * h * h)
