"""Metrics of vector-quantized autoencoders (models with ``code_maps`` and ``reconstruct``, such as
``vqvae2``): test reconstruction error and codebook usage."""
from __future__ import annotations

import torch

from .quantizer import perplexity


def _check(model, what):
    if not hasattr(model, what):
        raise ValueError(f"this metric needs a vector-quantized autoencoder ({type(model).__name__} has no {what})")


@torch.no_grad()
def recon_mse(ctx) -> dict:
    """Mean squared error per pixel between test images (in [0, 1]) and their reconstructions."""
    _check(ctx.model, "reconstruct")
    total, count = 0.0, 0
    for x, _ in ctx.test_batches():
        total += float((ctx.model.reconstruct(x).float().clamp(0, 1) - x).pow(2).sum())
        count += x.numel()
    return {"recon_mse": total / count}


@torch.no_grad()
def codebook_usage(ctx) -> dict:
    """Per level: the perplexity exp(H(p)) of the test set's code frequencies p (K = every code used
    equally) and the fraction of the K codes used at least once."""
    _check(ctx.model, "code_maps")
    counts = None
    for x, _ in ctx.test_batches():
        maps = ctx.model.code_maps(x)
        quantizers = ctx.model.quantizers()
        batch = [torch.bincount(c.flatten().cpu(), minlength=q.num_codes) for c, q in zip(maps, quantizers)]
        counts = batch if counts is None else [a + b for a, b in zip(counts, batch)]
    out = {}
    for level, n in zip(ctx.model.levels, counts):
        codes = torch.repeat_interleave(torch.arange(len(n)), n)
        out[f"codebook_perplexity_{level}"] = float(perplexity(codes, len(n)))
        out[f"codes_used_{level}"] = float((n > 0).float().mean())
    return out


def training_stages(ctx) -> dict:
    """The updates each training stage made: ``vqvae_steps`` (stage 1) and ``prior_steps`` (stage 2),
    so that a table states what ran, not what the config asked for."""
    _check(ctx.model, "prior_updates")
    return {"vqvae_steps": float(ctx.model.vqvae_updates), "prior_steps": float(ctx.model.prior_updates)}
