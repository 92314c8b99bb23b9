"""Likelihood metrics: NLL in nats per example and bits per dimension.

For a continuous density p on [0, 1]^D fed dequantized data y = (k + u) / L,
    -log P(k) <= -log p(y) + D log L                          (Theis et al. 2016),
so NLL = -log p(y) + D log L and bits/dim = NLL / (D ln 2). Discrete models give log P(k)
directly. Models with only a bound report the bound (``nll_is_bound`` = 1); models with
importance weights report the k-sample importance-sampled estimate (Burda et al. 2016).
"""
from __future__ import annotations

import math

import torch

from ..distributed import all_sum
from . import MetricContext


def discretization_nats(ctx: MetricContext) -> float:
    """D log L for continuous models on discrete data, 0 otherwise."""
    if getattr(ctx.model, "likelihood", "none") == "continuous" and ctx.dataset.levels is not None:
        return ctx.dataset.dims * math.log(ctx.dataset.levels)
    return 0.0


def bits_per_dim(nll_nats: float, dims: int) -> float:
    return nll_nats / (dims * math.log(2))


@torch.no_grad()
def nll(ctx: MetricContext) -> dict:
    """Test NLL (nats per example) and bits/dim from the best estimate the model offers:
    exact ``log_prob``, else the importance-sampled estimate with k = ``nll_k`` samples,
    else the ELBO (an upper bound on the NLL)."""
    model = ctx.model
    caps = model.capabilities()
    total, n, out = 0.0, 0, {}
    if "log_prob" in caps:
        for x, _ in ctx.test_batches(shard=True):
            total += model.log_prob(x).double().sum().item()
            n += len(x)
        total, n = all_sum(total, n)  # under torchrun: over every process's test examples
        out["nll_is_bound"] = 0.0
    elif "iw_bound" in caps:
        from .latent import importance_sampled_nll

        est = importance_sampled_nll(ctx, k=int(ctx.options.get("nll_k", 5000)))
        total, n = est["log_p_sum"], est["n"]
        out.update({key: v for key, v in est.items() if key not in ("log_p_sum", "n")})
        out["nll_is_bound"] = 0.0
    else:
        for x, _ in ctx.test_batches(shard=True):
            total += model.elbo(x).double().sum().item()
            n += len(x)
        total, n = all_sum(total, n)
        out["nll_is_bound"] = 1.0
    value = -total / n + discretization_nats(ctx)
    out["nll"] = value
    out["bpd"] = bits_per_dim(value, ctx.dataset.dims)
    return out
