"""Reversible blocks and the backward pass that recomputes activations instead of storing them
(Gomez, Ren, Urtasun & Grosse 2017, "The Reversible Residual Network", Algorithm 1).

A reversible block splits its input by channels into (x1, x2) and computes

    y1 = x1 + F(x2),        y2 = x2 + G(y1);
    x2 = y2 - G(y1),        x1 = y1 - F(x2)      (the inverse).

:func:`reversible_sequence` runs a chain of such blocks under ``torch.no_grad()`` and hands
autograd a single node that saves only the chain's *output*. Its backward walks the chain in
reverse with the paper's Algorithm 1, which reconstructs and differentiates in one pass: for a
block with output (y1, y2) and output gradient (dy1, dy2),

    z1 = y1,  x2 = y2 - G(z1),  x1 = z1 - F(x2)                 (G and F evaluated once each)
    dz1 = dy1 + (dG/dz1)^T dy2,   dx2 = dy2 + (dF/dx2)^T dz1,   dx1 = dz1,
    dw_G = (dG/dw_G)^T dy2,       dw_F = (dF/dw_F)^T dz1,

then frees that block's graph and goes on. The tensors kept for backward are therefore one
activation per chain (plus one residual function's graph while it is differentiated), whatever
the depth. The wrapper is written in the style of memcnn's ``InvertibleModuleWrapper`` (no code
is shared).

Batch normalization inside F and G sees the same batch twice (forward, then the recomputation);
the chain's buffers are restored after the backward pass, so the running statistics are updated
once per step as in a plain network.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn


class ReversibleBlock(nn.Module):
    """The additive coupling y1 = x1 + F(x2), y2 = x2 + G(y1) on the two channel halves."""

    def __init__(self, f: nn.Module, g: nn.Module):
        super().__init__()
        self.f, self.g = f, g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        y1 = x1 + self.f(x2)
        y2 = x2 + self.g(y1)
        return torch.cat([y1, y2], dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y.chunk(2, dim=1)
        x2 = y2 - self.g(y1)
        x1 = y1 - self.f(x2)
        return torch.cat([x1, x2], dim=1)


@contextlib.contextmanager
def frozen_running_stats(module: nn.Module):
    """Run ``module`` (batch statistics still used in training mode) and restore its buffers
    afterwards: the recomputation in backward must not update BatchNorm's running averages twice."""
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, value in saved:
                b.copy_(value)


class _ReversibleChain(torch.autograd.Function):
    """y = blocks[-1](...blocks[0](x)); saves y only (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, blocks, *params):
        ctx.blocks = blocks  # modules, not tensors: nothing of the activations is kept here
        with torch.no_grad():
            for block in blocks:
                x = block(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        y, grads = y.detach(), []
        with frozen_running_stats(ctx.blocks):
            for block in reversed(ctx.blocks):
                f_params, g_params = list(block.f.parameters()), list(block.g.parameters())
                y1, y2 = y.chunk(2, dim=1)
                dy1, dy2 = dy.chunk(2, dim=1)
                with torch.enable_grad():
                    z1 = y1.detach().requires_grad_(True)
                    g = block.g(z1)
                    dz1, *dg = torch.autograd.grad(g, [z1, *g_params], dy2)
                    x2 = (y2 - g).detach().requires_grad_(True)
                    del g
                    f = block.f(x2)
                    dx2, *df = torch.autograd.grad(f, [x2, *f_params], dy1 + dz1)
                    x1 = (y1 - f).detach()
                    del f
                grads.append((*df, *dg))
                y = torch.cat([x1, x2.detach()], dim=1)
                dy = torch.cat([dy1 + dz1, dy2 + dx2], dim=1)
        flat = [g for block_grads in reversed(grads) for g in block_grads]
        return (dy, None, *flat)


def reversible_sequence(x: torch.Tensor, blocks: nn.ModuleList, memory_saving: bool = True) -> torch.Tensor:
    """Apply ``blocks`` in order. With ``memory_saving`` (and when a gradient is needed) through
    :class:`_ReversibleChain`; without it, plain autograd through the very same blocks (which
    stores every intermediate activation: the reference the tests compare against)."""
    if not len(blocks):
        return x
    params = [p for block in blocks for p in block.parameters()]
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))
    if memory_saving and needs_grad:
        return _ReversibleChain.apply(x, blocks, *params)
    for block in blocks:
        x = block(x)
    return x
