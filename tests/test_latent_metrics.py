"""The latent-variable metrics against closed forms.

Probabilistic PCA, z ~ N(0, I_d), x | z ~ N(W z + b, s^2 I_D), has
    p(x) = N(x | b, W W^T + s^2 I),   p(z | x) = N(M^-1 W^T (x - b), s^2 M^-1),  M = W^T W + s^2 I,
so the importance-sampled estimate, the ELBO of a Gaussian q and the bound's growth with k can be
checked against exact values.
"""
from __future__ import annotations

import math

import pytest
import torch

from dgmbench.data import DataSplit
from dgmbench.errors import UnsupportedMetric
from dgmbench.metrics import MetricContext
from dgmbench.metrics.latent import active_units, elbo_surgery
from dgmbench.metrics.likelihood import iw_log_likelihood, log_mean_weights, nll, plan_chunks
from dgmbench.model import Model
from dgmbench.plugins import load_registry
from dgmbench.runner import check_metrics
from dgmbench.specs import DatasetSpec, ModelSpec

D, LATENT, NOISE = 5, 2, 0.5


class PPCA(Model):
    """Linear-Gaussian model with q(z | x) either the exact posterior (``q="exact"``) or a
    diagonal Gaussian with its mean shifted by 1.5 standard deviations and its variances 1.5 times
    the posterior's (``q="imperfect"``; the k = 1 bound is then about 3.8 nats below log p(x)).
    ``shift`` and ``inflate`` change those two numbers.
    ``offset`` is added to every log weight (to test the estimator far from 0)."""

    likelihood = "continuous"

    def __init__(self, q: str = "imperfect", offset: float = 0.0, shift: float = 1.5, inflate: float = 1.5):
        super().__init__({})
        self.shift, self.inflate = shift, inflate
        g = torch.Generator().manual_seed(0)
        self.W = torch.randn(D, LATENT, generator=g, dtype=torch.float64)
        self.b = torch.randn(D, generator=g, dtype=torch.float64)
        self.q, self.offset = q, offset
        m = self.W.T @ self.W + NOISE ** 2 * torch.eye(LATENT, dtype=torch.float64)
        self.m_inv = torch.linalg.inv(m)

    def marginal(self):
        cov = self.W @ self.W.T + NOISE ** 2 * torch.eye(D, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov)

    def posterior(self, x):
        x = x.double()
        mean = (x - self.b) @ self.W @ self.m_inv.T
        cov = NOISE ** 2 * self.m_inv
        if self.q == "exact":
            return torch.distributions.MultivariateNormal(mean, cov.expand(len(x), LATENT, LATENT))
        std = (self.inflate * cov.diagonal()).sqrt()
        normal = torch.distributions.Normal(mean + self.shift * std, std.expand_as(mean))
        return torch.distributions.Independent(normal, 1)

    def prior(self):
        zero = torch.zeros(LATENT, dtype=torch.float64)
        return torch.distributions.Independent(torch.distributions.Normal(zero, torch.ones_like(zero)), 1)

    def log_importance_weights(self, x, k):
        q = self.posterior(x)
        z = q.sample((k,))                                                    # (k, B, d)
        lik = torch.distributions.Independent(torch.distributions.Normal(z @ self.W.T + self.b, NOISE), 1)
        return lik.log_prob(x.double()) + self.prior().log_prob(z) - q.log_prob(z) + self.offset

    def encode(self, x):
        return [self.posterior(x).mean]

    def exact_elbo(self, x):
        """E_q[log p(x|z)] + E_q[log p(z)] + H[q] for the diagonal q, in closed form."""
        q = self.posterior(x).base_dist
        m, var = q.loc, q.scale ** 2
        resid = x.double() - m @ self.W.T - self.b
        rec = -0.5 * D * math.log(2 * math.pi * NOISE ** 2) - ((resid ** 2).sum(1) + (var @ (self.W ** 2).T).sum(1)) \
            / (2 * NOISE ** 2)
        prior = -0.5 * LATENT * math.log(2 * math.pi) - 0.5 * ((m ** 2).sum(1) + var.sum(1))
        entropy = 0.5 * torch.log(2 * math.pi * math.e * var).sum(1)
        return rec + prior + entropy


def context(model, n=300, seed=0, **options):
    torch.manual_seed(1000 + seed)
    x = model.marginal().sample((n,)).float() if hasattr(model, "marginal") else torch.randn(n, D)
    spec = DatasetSpec("ppca", load="x:y", shape=(D,), levels=None)
    return MetricContext(model=model, dataset=spec, test=DataSplit(x), device=torch.device("cpu"),
                         options=options, batch_size=64, seed=seed)


def estimate(ctx, k):
    est = iw_log_likelihood(ctx, k)
    return est["log_p_sum"] / est["n"], est


def test_k5000_estimate_matches_exact_log_likelihood():
    model = PPCA("imperfect")
    ctx = context(model)
    exact = model.marginal().log_prob(ctx.test.x.double())
    est, out = estimate(ctx, 5000)
    assert out["n"] == 300
    assert est == pytest.approx(exact.mean().item(), abs=0.02)
    # per example, with a q as good as a trained encoder's (wider than the posterior, mean off by 0.3 sd)
    model = PPCA("imperfect", shift=0.3, inflate=2.0)
    log_p, _ = log_mean_weights(model, ctx.test.x, 5000, chunk=700)
    assert (log_p - exact).abs().max().item() < 0.03
    assert log_mean_weights(model, ctx.test.x, 1, chunk=1)[0].sub(exact).mean().item() < -0.3


def test_bound_rises_with_k():
    model = PPCA("imperfect")
    ctx = context(model, n=500)
    values = [estimate(ctx, k)[0] for k in (1, 10, 100, 5000)]
    assert values == sorted(values) and min(b - a for a, b in zip(values, values[1:])) > 0.03, values
    exact = model.marginal().log_prob(ctx.test.x.double()).mean().item()
    assert values[-1] <= exact + 0.02


def test_exact_posterior_gives_exact_log_likelihood_for_every_k():
    model = PPCA("exact")
    ctx = context(model, n=50)
    exact = model.marginal().log_prob(ctx.test.x.double())
    for k in (1, 10, 100):
        log_p, mean_log_w = log_mean_weights(model, ctx.test.x, k, chunk=7)
        torch.testing.assert_close(log_p, exact, atol=1e-6, rtol=0)
        torch.testing.assert_close(mean_log_w, exact, atol=1e-6, rtol=0)


def test_elbo_is_the_k1_bound_and_matches_the_closed_form():
    model = PPCA("imperfect")
    ctx = context(model)
    est, out = estimate(ctx, 1)
    assert out["elbo_gap"] == 0.0 and -out["nll_elbo"] == pytest.approx(est, abs=1e-9)
    _, out = estimate(ctx, 5000)   # the mean of 5000 log weights: the ELBO to MC precision
    assert -out["nll_elbo"] == pytest.approx(model.exact_elbo(ctx.test.x).mean().item(), abs=0.01)
    assert out["elbo_gap"] > 0.1


def test_no_overflow_far_from_zero_and_chunking_is_invariant():
    for offset in (1000.0, -2000.0):
        model = PPCA("imperfect", offset=offset)
        ctx = context(model, n=100)
        exact = model.marginal().log_prob(ctx.test.x.double()).mean().item() + offset
        for chunk in (1, 64, 5000):
            torch.manual_seed(0)
            log_p, _ = log_mean_weights(model, ctx.test.x, 2000, chunk)
            assert math.isfinite(log_p.mean().item())
            assert log_p.mean().item() == pytest.approx(exact, abs=0.05)


def test_nll_metric_uses_the_importance_sampled_estimate():
    model = PPCA("imperfect")
    ctx = context(model, nll_k=2000)
    out = nll(ctx)
    exact = -model.marginal().log_prob(ctx.test.x.double()).mean().item()
    assert out["nll_is_bound"] == 0.0 and out["nll_k"] == 2000
    assert out["nll"] == pytest.approx(exact, abs=0.03)
    assert out["nll_elbo"] > out["nll"] and out["bpd"] == pytest.approx(out["nll"] / (D * math.log(2)))


def test_chunk_plans():
    from dgmbench.metrics.iw_plan import shape_for

    ctx = context(PPCA(), n=300)
    batch, chunk = plan_chunks(ctx, 5000)
    assert chunk >= 1 and 1 <= batch <= 300
    assert plan_chunks(context(PPCA(), n=10, nll_chunk=64, nll_batch=1), 5000) == (1, 64)
    # units -> shape: all k samples of as many images as fit, else k in equal chunks
    assert shape_for(10 ** 6, 5000, 10000) == (200, 5000)
    assert shape_for(10 ** 6, 5000, 50) == (50, 5000)
    assert shape_for(2048, 5000, 128) == (1, 1667)
    assert shape_for(1, 5000, 128) == (1, 1)


class OOMOnce(PPCA):
    """Raises CUDA's out-of-memory error for calls above ``limit`` example-samples."""

    limit = 1000

    def log_importance_weights(self, x, k):
        if len(x) * k > self.limit:
            raise torch.cuda.OutOfMemoryError("fake OOM")
        return super().log_importance_weights(x, k)


def test_out_of_memory_halves_the_chunk():
    model = OOMOnce("exact")
    x = model.marginal().sample((10,)).float()
    log_p, _ = log_mean_weights(model, x, 1000, chunk=1000)  # 10 x 1000 > limit: retried with 500, 250, 125, 62
    torch.testing.assert_close(log_p, model.marginal().log_prob(x.double()), atol=1e-6, rtol=0)
    model.limit = 0
    with pytest.raises(torch.cuda.OutOfMemoryError):
        log_mean_weights(model, x, 10, chunk=4)


class Encoder(Model):
    """encode() with a known number of informative units per layer: layer 1 copies 3 inputs
    (variance ~1), scales 2 by 0.05 (variance 0.0025 < 0.01) and has 1 constant unit; layer 2 has
    1 informative unit and 1 constant one."""

    likelihood = "none"

    def encode(self, x):
        one = torch.ones(len(x), 1)
        return [torch.cat([x[:, :3], 0.05 * x[:, 3:5], one], 1), torch.cat([x[:, :1] * 0.5, 2 * one], 1)]


def test_active_units_count_informative_dimensions():
    ctx = context(Encoder(), n=2000)
    out = active_units(ctx)
    assert out == {"active_units_layer1": 3.0, "active_units_layer2": 1.0, "active_units": 4.0}
    assert active_units(context(Encoder(), n=2000, au_threshold=1e-3))["active_units_layer1"] == 5.0


def test_elbo_surgery_decomposition():
    model = PPCA("imperfect")
    ctx = context(model, n=400, surgery_samples=8)
    out = elbo_surgery(ctx)
    assert 0 < out["mutual_info"] <= out["mutual_info_max"] + 1e-9 and out["marginal_kl"] > -0.05
    assert out["mutual_info"] + out["marginal_kl"] == pytest.approx(out["avg_kl"], abs=0.1)
    # the closed-form average KL of the diagonal Gaussians
    q = model.posterior(ctx.test.x).base_dist
    kl = 0.5 * (q.scale ** 2 + q.loc ** 2 - 1 - torch.log(q.scale ** 2)).sum(1).mean().item()
    assert out["avg_kl"] == pytest.approx(kl, rel=1e-6)


def test_elbo_surgery_needs_posterior_and_prior():
    with pytest.raises(UnsupportedMetric, match="posterior"):
        elbo_surgery(context(Encoder(), n=10))


def test_harness_refuses_metrics_the_model_cannot_support():
    reg = load_registry()
    sampler = ModelSpec("sampler", "x:y", capabilities=["sample"])
    with pytest.raises(UnsupportedMetric, match="metric 'nll' needs log_prob or iw_bound or elbo; model 'sampler'"):
        check_metrics(reg, ["nll"], sampler)
    with pytest.raises(UnsupportedMetric, match="metric 'active_units' needs encode; model 'sampler' has sample"):
        check_metrics(reg, ["active_units"], sampler)
    with pytest.raises(UnsupportedMetric, match="metric 'elbo_surgery' needs encode\\+iw_bound"):
        check_metrics(reg, ["elbo_surgery"], ModelSpec("enc", "x:y", capabilities=["encode"]))
    with pytest.raises(UnsupportedMetric, match="needs iw_bound"):
        iw_log_likelihood(context(Encoder(), n=10), 10)


def test_iwae_table_protocol_joins_the_reference():
    import csv
    from importlib import resources

    reg = load_registry()
    proto = reg.get("protocols", "iwae-table")
    assert len(proto.cells) == 24 and {c.model for c in proto.cells} == {"vae", "iwae"}
    assert set(proto.metrics) == {"nll", "active_units"}
    rows = list(csv.DictReader(resources.files("dgmbench").joinpath("references", proto.reference).open()))
    keys = {(r["dataset"], r["stochastic_layers"], r["k"], r["model"]) for r in rows}
    cells = {(c.labels["dataset"], str(c.labels["stochastic_layers"]), str(c.labels["k"]), c.labels["model"])
             for c in proto.cells}
    assert cells == keys
    assert set(proto.columns.values()) <= set(rows[0])
