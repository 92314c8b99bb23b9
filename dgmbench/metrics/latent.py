"""Metrics of latent-variable models, for any model with the right capabilities.

* :func:`importance_sampled_nll` (used by the ``nll`` metric for models with ``iw_bound``):
  the importance-sampled estimate of Burda et al. (2016),
      log p(x) ~= log (1/k) sum_{i=1..k} w_i,   log w_i = log p(x, z_i) - log q(z_i | x),  z_i ~ q(z | x),
  a lower bound in expectation that rises to log p(x) as k grows (k = 5000 in the paper), with the
  ELBO E_q[log w] estimated from the same k weights and the gap between the two.
* :func:`active_units` (needs ``encode``): unit u of a stochastic layer is active when
      A_u = Cov_x(E_{q(u | x)}[u]) > 0.01                         (Burda et al. 2016, Sec. 5.2)
  over the test set, counted per stochastic layer.
* :func:`elbo_surgery` (needs ``encode`` + ``iw_bound`` and the optional model methods
  ``posterior(x)`` and ``prior()``): the average KL term of the ELBO split as
      (1/N) sum_n KL(q(z | x_n) || p(z)) = KL(q(z) || p(z)) + I_q[n, z]   (Hoffman & Johnson 2016)
  with the aggregate posterior q(z) = (1/N) sum_n q(z | x_n) over the N test points.
"""
from __future__ import annotations

import math

import torch

from ..distributed import all_sum, all_sum_
from ..errors import UnsupportedMetric
from . import MetricContext


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
def importance_sampled_nll(ctx: MetricContext, k: int) -> dict:
    """The k-sample importance-sampled log-likelihood over the test set.

    Returns ``log_p_sum`` (sum over test examples of log (1/k) sum_i w_i, in nats; the ``nll``
    metric negates and averages it), ``n`` (examples), ``nll_elbo`` (-mean ELBO, the NLL
    bound the ELBO gives, discretization included like ``nll``; >= nll up to noise),
    ``elbo_gap`` (mean of log p_k(x) - ELBO(x) >= 0 in expectation, nats) and ``nll_k``."""
    from .likelihood import discretization_nats

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
def active_units(ctx: MetricContext) -> dict:
    """Units with Cov_x(E_q[u | x]) > ``au_threshold`` (0.01), per stochastic layer and in all,
    over the test set (population covariance, accumulated in float64)."""
    threshold = float(ctx.options.get("au_threshold", 0.01))
    sums = sq = None
    n = 0
    for x, _ in ctx.test_batches(shard=True):
        means = [m.flatten(1).double() for m in ctx.model.encode(x)]
        if sums is None:
            sums = [torch.zeros(m.shape[1], dtype=torch.float64, device=m.device) for m in means]
            sq = [torch.zeros_like(s) for s in sums]
        for i, m in enumerate(means):
            sums[i] += m.sum(0)
            sq[i] += m.pow(2).sum(0)
        n += len(x)
    all_sum_([*sums, *sq])  # under torchrun: the moments of every process's test examples
    (n,) = all_sum(n)
    out, total = {}, 0
    for i, (s, q) in enumerate(zip(sums, sq), start=1):
        var = q / n - (s / n) ** 2
        count = int((var > threshold).sum())
        out[f"active_units_layer{i}"] = float(count)
        total += count
    out["active_units"] = float(total)
    return out


def _posterior_methods(model):
    post, prior = getattr(model, "posterior", None), getattr(model, "prior", None)
    if not callable(post) or not callable(prior):
        raise UnsupportedMetric(f"elbo_surgery needs the model methods posterior(x) -> q(z | x) and prior() -> p(z) "
                                f"(torch.distributions, first stochastic layer); {type(model).__name__} lacks them")
    return post, prior


@torch.no_grad()
def elbo_surgery(ctx: MetricContext) -> dict:
    """Hoffman & Johnson (2016): avg KL = KL(q(z) || p(z)) + I[n, z] over the N test points.

    Requires the optional model methods ``posterior(x)`` (q(z | x), a torch Distribution with
    batch shape (B,) and event shape (d,)) and ``prior()`` (p(z), event shape (d,)) for the
    first stochastic layer (a model raises UnsupportedMetric where they do not exist).

    Estimator, with N = min(test size, ``surgery_n`` = 10,000) and S = ``surgery_samples`` (4)
    draws z ~ q(z | x_n) per point:
        avg_kl       = (1/N) sum_n KL(q(z|x_n) || p(z))     (closed form where torch has it, else MC)
        mutual_info  = E_{n, z ~ q(z|x_n)}[log q(z | x_n) - log q(z)]
        marginal_kl  = E_{n, z ~ q(z|x_n)}[log q(z) - log p(z)]
    with log q(z) = logsumexp_m log q(z | x_m) - log N over all N points (exact for the mixture).
    The MC sum mutual_info + marginal_kl estimates avg_kl; I[n, z] <= log N (``mutual_info_max``).
    """
    model = ctx.model
    posterior, prior_fn = _posterior_methods(model)
    n_max = int(ctx.options.get("surgery_n", 10000))
    samples = int(ctx.options.get("surgery_samples", 4))
    prior = prior_fn()
    dists, zs, log_q_own, kls, n = [], [], [], [], 0
    for x, _ in ctx.test_batches():
        x = x[: n_max - n]
        q = posterior(x)
        z = q.sample((samples,))                      # (S, B, d)
        dists.append(q)
        zs.append(z)
        log_q_own.append(q.log_prob(z).double())      # (S, B)
        try:
            kls.append(torch.distributions.kl_divergence(q, prior).double())
        except NotImplementedError:
            kls.append((log_q_own[-1] - prior.log_prob(z).double()).mean(0))
        n += len(x)
        if n >= n_max:
            break
    log_n = math.log(n)
    mi = marginal = 0.0
    for z, own in zip(zs, log_q_own):
        flat = z.reshape(-1, z.shape[-1])             # (S*B, d)
        log_mix = torch.full((len(flat),), -math.inf, dtype=torch.float64, device=flat.device)
        for q in dists:                               # log sum_m q(z | x_m), one batch of m at a time
            log_mix = torch.logaddexp(log_mix, torch.logsumexp(q.log_prob(flat[:, None, :]).double(), 1))
        log_qz = log_mix - log_n
        mi += (own.reshape(-1) - log_qz).sum().item()
        marginal += (log_qz - prior.log_prob(flat).double()).sum().item()
    count = n * samples
    return {"avg_kl": torch.cat(kls).mean().item(), "mutual_info": mi / count, "marginal_kl": marginal / count,
            "mutual_info_max": log_n}
