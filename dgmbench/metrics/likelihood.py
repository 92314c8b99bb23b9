"""Likelihood metrics and their estimators: NLL in nats per example and bits per dimension.

For a continuous density p on [0, 1]^D fed dequantized data y = (k + u) / L,
    -log P(k) <= -log p(y) + D log L                          (Theis et al. 2016),
so NLL = -log p(y) + D log L and bits/dim = NLL / (D ln 2). Discrete models give log P(k)
directly. Models with only a bound report the bound (``nll_is_bound`` = 1); models with
importance weights report the k-sample importance-sampled estimate (Burda et al. 2016),
:func:`iw_log_likelihood`:
    log p(x) ~= log (1/k) sum_{i=1..k} w_i,   log w_i = log p(x, z_i) - log q(z_i | x),  z_i ~ q(z | x),
a lower bound in expectation that rises to log p(x) as k grows (k = 5000 in the paper), with the
ELBO E_q[log w] estimated from the same k weights and the gap between the two.
:func:`log_mean_weights` is the per-example estimator both it and the array-level
:func:`dgmbench.metrics.arrays.importance_sampled_nll` use.
"""
from __future__ import annotations

import math

import torch

from ..distributed import all_sum
from ..errors import UnsupportedMetric
from . import MetricContext


def discretization_nats(ctx: MetricContext) -> float:
    """D log L for continuous models on discrete data, 0 otherwise."""
    if getattr(ctx.model, "likelihood", "none") == "continuous" and ctx.dataset.levels is not None:
        return ctx.dataset.dims * math.log(ctx.dataset.levels)
    return 0.0


def bits_per_dim(nll_nats: float, dims: int) -> float:
    return nll_nats / (dims * math.log(2))


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, dynamic_ncols=True, disable=None)


def plan_chunks(ctx: MetricContext, k: int) -> tuple[int, int]:
    """(images per call, samples per call) for the k-sample estimate: measured on the model and
    device within a memory bound (:mod:`dgmbench.metrics.iw_plan`), or fixed by the options
    ``nll_batch`` / ``nll_chunk``."""
    from .iw_plan import plan

    return plan(ctx, k)


def log_mean_weights(model, x: torch.Tensor, k: int, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log (1/k) sum_i w_i, (1/k) sum_i log w_i) per example, in float64, drawing the k samples
    ``chunk`` at a time: the log-sum-exp runs over chunks with torch.logaddexp, so nothing
    overflows and memory stays at one chunk. A CUDA out-of-memory error halves the chunk."""
    acc = torch.full((len(x),), -math.inf, dtype=torch.float64, device=x.device)
    mean_log_w = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        c = min(chunk, k - done)
        try:
            log_w = model.log_importance_weights(x, c).double()
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            chunk = max(1, chunk // 2)
            torch.cuda.empty_cache()
            continue
        acc = torch.logaddexp(acc, torch.logsumexp(log_w, 0))
        mean_log_w += log_w.sum(0)
        done += c
    return acc - math.log(k), mean_log_w / k


@torch.no_grad()
def iw_log_likelihood(ctx: MetricContext, k: int) -> dict:
    """The k-sample importance-sampled log-likelihood over the test set.

    Returns ``log_p_sum`` (sum over test examples of log (1/k) sum_i w_i, in nats; the ``nll``
    metric negates and averages it), ``n`` (examples), ``nll_elbo`` (-mean ELBO, the NLL
    bound the ELBO gives, discretization included like ``nll``; >= nll up to noise),
    ``elbo_gap`` (mean of log p_k(x) - ELBO(x) >= 0 in expectation, nats) and ``nll_k``."""
    model = ctx.model
    if "iw_bound" not in model.capabilities():
        raise UnsupportedMetric(f"importance-sampled NLL needs iw_bound (log_importance_weights); "
                                f"{type(model).__name__} has {', '.join(sorted(model.capabilities())) or 'none'}")
    batch, chunk = plan_chunks(ctx, k)
    log_p_sum = elbo_sum = 0.0
    n = 0
    bar = _progress(len(ctx.test), f"nll (k={k})")
    for x, _ in ctx.test_batches(batch, shard=True):
        log_p, elbo = log_mean_weights(model, x, k, chunk)
        log_p_sum += log_p.sum().item()
        elbo_sum += elbo.sum().item()
        n += len(x)
        bar.update(len(x))
    bar.close()
    log_p_sum, elbo_sum, n = all_sum(log_p_sum, elbo_sum, n)  # under torchrun: over every process's examples
    return {"log_p_sum": log_p_sum, "n": n, "nll_elbo": -elbo_sum / n + discretization_nats(ctx),
            "elbo_gap": (log_p_sum - elbo_sum) / n, "nll_k": float(k)}


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
        est = iw_log_likelihood(ctx, k=int(ctx.options.get("nll_k", 5000)))
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
