"""The plugin's metrics: the reconstruction term beside the disentanglement scores, and the check
of the identifiability protocol that two representations have the same marginals."""
from __future__ import annotations

import torch


@torch.no_grad()
def reconstruction(ctx) -> dict:
    """Over the test split: recon = -E_q log p(x | z) and kl = KL(q(z | x) || p(z)), nats per image
    (one draw z ~ q(z | x) per image), from the model method ``terms(x)`` of this plugin's VAEs; other
    models with ``encode`` (InfoGAN) have no such term and get no value."""
    if not hasattr(ctx.model, "terms"):  # a GAN's encoder (InfoGAN) has no reconstruction term: nothing to store
        print(f"note: reconstruction: {type(ctx.model).__name__} has no terms(x) (this plugin's VAEs); skipped")
        return {}
    torch.manual_seed(ctx.seed)
    recon, kl, n = 0.0, 0.0, 0
    for x, _ in ctx.test_batches():
        r, k, _ = ctx.model.terms(x)
        recon, kl, n = recon + float(r.sum()), kl + float(k.sum()), n + len(x)
    return {"recon": recon / n, "kl": kl / n}


def code_marginals(ctx) -> dict:
    """Kolmogorov-Smirnov test of each dimension of the mean representation against the model's
    stated marginal (``model.marginal``: uniform on (0, 1), or gaussian N(0, 1), the default), on
    ``mig_points`` images from the factor sampler: ``ks_max`` (largest distance over dimensions),
    ``ks_pvalue_min``, and ``marginals_match`` (1 when no dimension is rejected at 1 %,
    Bonferroni-corrected over the dimensions, else 0)."""
    from scipy.stats import kstest

    from dgmbench.metrics import disentanglement as dis

    represent, truth, rng, options = dis.representation(ctx)
    z = dis.represent_factors(represent, truth, truth.sample_factors(int(options["mig_points"]), rng), rng)
    law = "uniform" if getattr(ctx.model, "marginal", "gaussian") == "uniform" else "norm"
    tests = [kstest(z[:, j], law) for j in range(z.shape[1])]
    p_min = float(min(t.pvalue for t in tests))
    return {"ks_max": float(max(t.statistic for t in tests)), "ks_pvalue_min": p_min,
            "marginals_match": float(p_min * z.shape[1] >= 0.01)}
