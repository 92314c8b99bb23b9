"""Normalization: the discretized logistic (mixture) and every model's log P(x) sum to one."""
import itertools
import math

import pytest
import torch
from ar_helpers import MIXTURE_MODELS, MODELS, build
from dgmbench_autoregressive import logistic

f64 = torch.float64


def grid(levels, dtype=f64):
    return 2 * torch.arange(levels, dtype=dtype) / (levels - 1) - 1


@pytest.mark.parametrize("levels", [2, 17, 256])
@pytest.mark.parametrize("dtype,tol", [(f64, 1e-12), (torch.float32, 5e-5)])
def test_discretized_logistic_sums_to_one(levels, dtype, tol):
    """sum_k P(x_k | mu, s) = 1 over the L levels, including the edge bins, for centres inside
    and outside [-1, 1] and scales from the clamp (log s = -7) to wide (log s = 3)."""
    mean = torch.tensor([-1.5, -1.0, -0.3, 0.0, 0.01, 0.7, 1.0, 2.0], dtype=dtype)[:, None, None]
    log_scale = torch.tensor([-7.0, -4.0, -1.0, 0.0, 3.0], dtype=dtype)[None, :, None]
    logp = logistic.log_bin_prob(grid(levels, dtype)[None, None, :], mean, log_scale, levels)
    assert torch.isfinite(logp).all()
    total = logp.double().exp().sum(-1)
    torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=tol)


def test_log_sigmoid_diff_is_accurate_where_the_naive_form_fails():
    a = torch.tensor([0.3, 3.0, -5.0, 30.0, 60.0, -60.0], dtype=f64)
    b = a - torch.tensor([0.2, 1.0, 0.5, 1.0, 1e-3, 1e-3], dtype=f64)
    exact = torch.log(torch.sigmoid(a) - torch.sigmoid(b))[:3]  # float64 is fine for these
    torch.testing.assert_close(logistic.log_sigmoid_diff(a, b)[:3], exact)
    # sigma(30) - sigma(29) = sigma(-29) - sigma(-30): the naive form loses 3 digits even in float64
    expected = torch.log(torch.sigmoid(-b[3]) - torch.sigmoid(-a[3]))
    torch.testing.assert_close(logistic.log_sigmoid_diff(a, b)[3], expected)
    # sigma(60) - sigma(59.999) = e^-60 (1 - e^-0.001) (1 + O(e^-60)): 1 - 1 = 0 in any precision
    want = -60.0 + math.log(-math.expm1(-1e-3))
    for dtype in (f64, torch.float32):
        got = logistic.log_sigmoid_diff(a.to(dtype), b.to(dtype))
        assert abs(got[4].item() - want) < 1e-3
        assert abs(got[5].item() - (-60.0 + math.log(1e-3))) < 1e-2


def random_params(B, C, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(B, logistic.num_params(C, K), 1, 1, dtype=f64, generator=g) * 1.5
    return logistic.MixtureParams.from_output(out, C, K)


def conditional_log_prob(xs, p, levels):
    """log P(x_c | x_<c) per channel, (B, C, 1, 1), from the conditional mixture weights."""
    w = logistic.conditional_log_weights(xs, p, levels)
    return torch.logsumexp(w + logistic.component_log_probs(xs, p, levels), -1)


@pytest.mark.parametrize("levels", [17, 256])
def test_rgb_mixture_conditionals_sum_to_one_and_chain_to_the_joint(levels):
    """For RGB with the linear dependence: sum_R P(R) = 1, sum_G P(G | R) = 1, sum_B P(B | R, G) = 1
    with the earlier channels fixed at random levels, and log P(R) + log P(G|R) + log P(B|R,G) =
    log P(pixel) (so the joint over all L^3 pixels sums to one)."""
    C, K = 3, 4
    g = grid(levels)
    for seed in range(3):
        p = random_params(1, C, K, seed)
        fixed = g[torch.randint(levels, (C,), generator=torch.Generator().manual_seed(seed))]
        for c in range(C):
            xs = fixed.repeat(levels, 1)
            xs[:, c] = g  # vary channel c over all L levels; earlier channels fixed
            batch = logistic.MixtureParams(*(t.expand(levels, *t.shape[1:]) for t in vars(p).values()))
            cond = conditional_log_prob(xs[:, :, None, None], batch, levels)[:, c, 0, 0]
            assert abs(cond.exp().sum().item() - 1) < 1e-10
        xs = fixed.view(1, C, 1, 1)
        chain = conditional_log_prob(xs, p, levels).sum(1)
        torch.testing.assert_close(chain, logistic.log_prob_pixels(xs, p, levels), rtol=0, atol=1e-10)


def test_rgb_mixture_joint_sums_to_one_by_enumeration():
    levels, C, K = 17, 3, 5
    xs = torch.cartesian_prod(*[grid(levels)] * C).view(-1, C, 1, 1)  # all 17^3 = 4913 pixels
    p = random_params(1, C, K, seed=4)
    p = logistic.MixtureParams(*(t.expand(len(xs), *t.shape[1:]) for t in vars(p).values()))
    total = logistic.log_prob_pixels(xs, p, levels).exp().sum()
    assert abs(total.item() - 1) < 1e-10


def test_sampling_from_the_mixture_matches_its_probabilities():
    """The closed-form pixel sampler draws levels with the probabilities log_prob_pixels gives
    (chi-square-like check on a 2-channel, L=3 pixel: 9 outcomes, 20000 draws)."""
    levels, C, K, n = 3, 2, 3, 20000
    p = random_params(1, C, K, seed=5)
    torch.manual_seed(0)
    batch = logistic.MixtureParams(*(t.expand(n, *t.shape[1:]) for t in vars(p.at(0, 0)).values()))
    draws = logistic.sample_pixel(batch, levels)
    k = torch.round((draws + 1) / 2 * (levels - 1)).long()
    freq = torch.bincount(k[:, 0] * levels + k[:, 1], minlength=levels ** 2).double() / n
    xs = torch.cartesian_prod(grid(levels), grid(levels)).view(-1, C, 1, 1)
    pb = logistic.MixtureParams(*(t.expand(len(xs), *t.shape[1:]) for t in vars(p).values()))
    prob = logistic.log_prob_pixels(xs, pb, levels).exp().flatten()
    assert abs(prob.sum().item() - 1) < 1e-10
    assert (freq - prob).abs().max() < 4 * math.sqrt(0.25 / n), (freq, prob)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape,levels", [((1, 2, 2), 3), ((3, 2, 2), 2)])
def test_model_log_prob_is_a_distribution(name, shape, levels):
    """sum over all L^D images of exp(log P(x)) = 1 (81 grey 2x2 images with L = 3; 4096 RGB
    2x2 images with L = 2)."""
    model = build(name, shape, levels)
    D = math.prod(shape)
    images = torch.tensor(list(itertools.product(range(levels), repeat=D)), dtype=f64).view(-1, *shape) / (levels - 1)
    with torch.no_grad():
        logp = model.log_prob(images)
    assert logp.shape == (levels ** D,) and (logp < 0).all()
    assert abs(torch.logsumexp(logp, 0).item()) < 1e-10


@pytest.mark.parametrize("name", MODELS)
def test_log_prob_is_the_sum_of_subpixel_conditionals(name):
    """log P(x) = sum of per-sub-pixel conditional log-probabilities computed from ``conditionals``."""
    shape, levels = (3, 4, 4), 17
    model = build(name, shape, levels)
    k = torch.randint(levels, (3, *shape))
    x = k.double() / (levels - 1)
    with torch.no_grad():
        cond = model.conditionals(x)
        if name in MIXTURE_MODELS:
            K = model.mixtures
            log_w, means, log_s = cond[..., :K], cond[..., K:2 * K], cond[..., 2 * K:]
            per = torch.logsumexp(log_w + logistic.log_bin_prob((2 * x - 1)[..., None], means, log_s, levels), -1)
        else:
            per = cond.log_softmax(-1).gather(-1, k[..., None]).squeeze(-1)
        torch.testing.assert_close(per.flatten(1).sum(1), model.log_prob(x), rtol=1e-10, atol=1e-8)
