"""Reversible blocks and the backward pass that recomputes activations instead of storing them
(Gomez, Ren, Urtasun & Grosse 2017, "The Reversible Residual Network", Algorithm 1).

A reversible block splits its input by channels into (x1, x2) and computes

    y1 = x1 + F(x2),        y2 = x2 + G(y1);
    x2 = y2 - G(y1),        x1 = y1 - F(x2)      (the inverse).

:func:`reversible_sequence` runs a chain of such blocks under ``torch.no_grad()`` and hands
autograd a single node that saves only the chain's *output*. Its backward walks the chain in
reverse: reconstruct a block's input from its output, rerun that one block with autograd on,
backpropagate through it, free it, and go on. The tensors kept for backward are therefore one
activation per chain (plus one block's worth while that block is recomputed), whatever the depth.
The wrapper is written in the style of memcnn's ``InvertibleModuleWrapper`` (no code is shared).

Batch normalization inside F and G sees the same batch twice (forward, then the recomputation);
the recomputation runs with the running statistics frozen, so they are updated once per step as
in a plain network.
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
    """Run ``module`` (batch statistics still used in training mode) without changing its
    buffers: the recomputation in backward must not update BatchNorm's running averages twice."""
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
        grads: list[tuple] = []
        for block in reversed(ctx.blocks):
            params = [p for p in block.parameters()]
            with torch.no_grad(), frozen_running_stats(block):
                x = block.inverse(y)
            with torch.enable_grad(), frozen_running_stats(block):
                x = x.detach().requires_grad_(True)
                out = block(x)
                dx, *dparams = torch.autograd.grad(out, [x, *params], dy)
            grads.append(tuple(dparams))
            y, dy = x.detach(), dx
            del out, x
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
