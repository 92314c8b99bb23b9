"""The forward process's closed forms and the bound's terms."""
import math

import pytest
import torch
from dgmbench_diffusion.process import GaussianDiffusion, discretized_gaussian_log_prob, linear_betas, normal_log_prob
from diffusion_helpers import build


def test_the_chain_has_the_closed_form_marginal():
    """Running x_t ~ q(x_t | x_{t-1}) step by step from x_0 gives N(sqrt(abar_t) x_0, (1 - abar_t) I)
    at every t (mean and variance within 5 standard errors over 20,000 chains)."""
    T, n = 50, 20000
    process = GaussianDiffusion(linear_betas(T))
    x0 = torch.tensor([-1.0, -0.2, 0.5, 1.0], dtype=torch.float64).expand(n, 4)
    g = torch.Generator().manual_seed(0)
    x = x0.clone()
    for t in range(1, T + 1):
        x = process.q_step(x, torch.full((n,), t), torch.randn(x.shape, dtype=x.dtype, generator=g))
        if t in (1, 5, 20, 50):
            ab = process.alphas_bar[t - 1].item()
            mean, var = math.sqrt(ab) * x0[0], 1 - ab
            assert (x.mean(0) - mean).abs().max() < 5 * math.sqrt(var / n), t
            assert (x.var(0) - var).abs().max() < 5 * var * math.sqrt(2 / n), t
    one_shot = process.q_sample(x0, torch.full((n,), T), torch.randn(x0.shape, dtype=x0.dtype, generator=g))
    assert (one_shot.mean(0) - x.mean(0)).abs().max() < 0.05


def test_the_posterior_is_gaussian_conditioning_of_the_joint():
    """q(x_{t-1} | x_t, x_0) from the joint Gaussian of (x_{t-1}, x_t) given x_0: mean
    m1 + c12 / c22 (x_t - m2), variance c11 - c12^2 / c22."""
    process = GaussianDiffusion(linear_betas(30))
    x0, xt = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.3]], dtype=torch.float64)
    for t in (2, 10, 30):
        ab, abp, b = process.alphas_bar[t - 1], process.alphas_bar_prev[t - 1], process.betas[t - 1]
        m1, m2 = abp.sqrt() * x0, ab.sqrt() * x0
        c11, c12, c22 = 1 - abp, (1 - b).sqrt() * (1 - abp), 1 - ab
        mean, logvar = process.q_posterior(x0, xt, torch.tensor([t]))
        torch.testing.assert_close(mean, m1 + c12 / c22 * (xt - m2))
        torch.testing.assert_close(logvar.exp(), (c11 - c12 ** 2 / c22).view(1, 1))


@pytest.mark.parametrize("T", [1000, 100, 20])
def test_the_prior_term_is_near_zero_for_the_schedule(T):
    """L_T = KL(q(x_T | x_0) || N(0, I)) for CIFAR-shaped images at the extremes of [-1, 1]: below
    1e-4 bits/dim for the paper's T = 1000 and for the scaled shorter chains."""
    process = GaussianDiffusion(linear_betas(T))
    x0 = torch.ones(2, 3, 32, 32, dtype=torch.float64)
    x0[1] = -1
    bpd = process.prior_kl(x0) / (3 * 32 * 32 * math.log(2))
    assert (bpd > 0).all() and (bpd < 1e-4).all(), bpd


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_the_discretized_gaussian_decoder_sums_to_one(levels):
    grid = 2 * torch.arange(levels, dtype=torch.float64) / (levels - 1) - 1
    mean = torch.tensor([-1.3, -0.5, 0.0, 0.9, 1.4], dtype=torch.float64)[:, None]
    for logvar in (-12.0, -4.0, 0.0):
        p = discretized_gaussian_log_prob(grid[None], mean, torch.full_like(mean, logvar), levels).exp().sum(1)
        torch.testing.assert_close(p, torch.ones_like(p), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["ddpm", "deep-diffusion"])
def test_the_bound_is_the_sum_of_its_terms(name):
    """elbo(x) = -(L_T + sum_{t=2}^T L_{t-1} + L_0) (+ D log 2 for the density on [0, 1]) with the
    same draws; the bound has T - 1 KL terms, all positive."""
    model = build(name)
    x = torch.randint(17, (3, 1, 4, 4)).double() / 16
    torch.manual_seed(5)
    elbo = model.elbo(x)
    torch.manual_seed(5)
    terms = model.bound_terms(model.to_model(x))
    assert terms["kl"].shape == (3, model.process.T - 1) and (terms["kl"] > 0).all()
    total = terms["prior"] + terms["kl"].sum(1) + terms["decoder"]
    torch.testing.assert_close(elbo, -total + model.log_jacobian())


@pytest.mark.parametrize("name", ["ddpm", "deep-diffusion"])
def test_the_analytic_bound_is_the_expected_log_ratio_of_the_chains(name):
    """The closed-form KL decomposition equals the definition E_q[log p(x_{0:T}) - log q(x_{1:T} | x_0)],
    estimated by running the forward chain (2,000 chains of T = 4, within 5 standard errors)."""
    model = build(name, shape=(1, 2, 2), timesteps=4)
    n, p = 2000, model.process
    x0 = model.to_model(torch.tensor([0.0, 0.25, 0.75, 1.0], dtype=torch.float64).view(1, 1, 2, 2)).expand(n, 1, 2, 2)
    with torch.no_grad():
        analytic = model.negative_bound(x0)
        xs, log_q = [x0], 0
        for t in range(1, p.T + 1):
            prev = xs[-1]
            b = p.betas[t - 1]
            xs.append(p.q_step(prev, torch.full((n,), t), torch.randn_like(prev)))
            log_q = log_q + normal_log_prob(xs[-1], (1 - b).sqrt() * prev, b.log().expand_as(prev)).flatten(1).sum(1)
        log_p = normal_log_prob(xs[-1], torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)
        for t in range(p.T, 1, -1):
            mean, logvar = model.reverse(xs[t], torch.full((n,), t))
            log_p = log_p + normal_log_prob(xs[t - 1], mean, logvar.expand_as(mean)).flatten(1).sum(1)
        log_p = log_p + model.decoder_log_prob(x0, xs[1])
    mc = -(log_p - log_q)
    err = 5 * math.hypot(analytic.std().item(), mc.std().item()) / math.sqrt(n)
    assert abs(analytic.mean().item() - mc.mean().item()) < err, (analytic.mean(), mc.mean(), err)


def test_a_sampled_bound_estimates_the_full_one():
    model = build("ddpm", timesteps=10)
    x0 = model.to_model(torch.full((200, 1, 4, 4), 0.5, dtype=torch.float64))
    with torch.no_grad():
        full, sampled = model.negative_bound(x0), model.negative_bound(x0, n=3)
    se = math.hypot(full.std().item(), sampled.std().item()) / math.sqrt(200)
    assert abs(full.mean().item() - sampled.mean().item()) < 5 * se


def test_a_shorter_chain_keeps_the_papers_marginals_at_its_steps():
    """Respacing: T = 20 steps whose abar are the 1,000-step schedule's at t = 50, 100, ..., 1000,
    and every beta well below 1."""
    paper = torch.cumprod(1 - linear_betas(1000), 0)
    short = linear_betas(20)
    torch.testing.assert_close(torch.cumprod(1 - short, 0), paper[49::50])
    assert short.max() < 0.7 and (short > 0).all()
