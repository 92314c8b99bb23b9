"""Metrics of latent-variable models, for any model with the right capabilities (the importance-
sampled likelihood estimate is in :mod:`dgmbench.metrics.likelihood`).

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
