"""VAE / IWAE: shapes, the bounds' identities, the schedule, the decoder rules, artifacts."""
from __future__ import annotations

import math

import pytest
import torch
from dgmbench_latent.models import IWAE, VAE, burda_lr_factor, log_mean_exp
from dgmbench_latent.networks import BernoulliMLP, GaussianMLP

from dgmbench.plugins import load_registry
from dgmbench.runner import build_model

SHAPE = (1, 6, 6)


def binary(n=8, seed=0):
    return torch.bernoulli(torch.full((n, *SHAPE), 0.3), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("layers", [1, 2])
def test_shapes_and_paper_architecture(layers):
    model = VAE((1, 28, 28), 2, {"layers": layers})
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.5))
    assert model.log_importance_weights(x, 7).shape == (7, 3)
    assert model.elbo(x).shape == (3,)
    assert [m.shape for m in model.encode(x)] == [(3, u) for u in ([50] if layers == 1 else [100, 50])]
    s = model.sample(4)
    assert s.shape == (4, 1, 28, 28) and 0 <= s.min() and s.max() <= 1
    widths = [m.out_features for m in model.q[0].body if isinstance(m, torch.nn.Linear)]
    assert widths == [200, 200]  # both architectures (the released code's for L = 2)
    if layers == 2:
        assert [m.out_features for m in model.q[1].body if isinstance(m, torch.nn.Linear)] == [100, 100]
        assert [m.out_features for m in model.p_x.body if isinstance(m, torch.nn.Linear)] == [200, 200]
        assert model.q[1].out_dim == 50 and model.p_z[0].out_dim == 100
    assert model.likelihood == "discrete"


@pytest.mark.parametrize("layers", [1, 2])
def test_vae_and_iwae_bounds_agree_at_k1_and_iwae_is_tighter(layers):
    x = binary()
    vae = VAE(SHAPE, 2, {"layers": layers, "latent": [4] if layers == 1 else [4, 3], "hidden": [[8]] * layers})
    iwae = IWAE(SHAPE, 2, vae.config)
    iwae.load_state_dict(vae.state_dict())
    torch.manual_seed(0)
    a = vae.bound(x, 1)
    torch.manual_seed(0)
    b = iwae.bound(x, 1)
    torch.manual_seed(0)
    c = vae.elbo(x)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    log_w = vae.log_importance_weights(x, 50)
    assert (log_mean_exp(log_w, 0) >= log_w.mean(0) - 1e-6).all()  # Jensen
    # the bound rises with k on average (same model, many draws)
    torch.manual_seed(1)
    lw = vae.log_importance_weights(x, 2000)
    b1, b50 = lw.mean(0).mean(), log_mean_exp(lw.view(40, 50, -1), 1).mean()
    assert b50 > b1


def test_single_layer_log_weight_is_the_textbook_elbo_term():
    """log w = log p(x|z) + log N(z; 0, I) - log q(z|x) computed by hand."""
    model = VAE(SHAPE, 2, {"latent": 3, "hidden": [[5]]})
    x = binary(4)
    torch.manual_seed(0)
    log_w = model.log_importance_weights(x, 2)
    torch.manual_seed(0)
    mean, std = model.q[0].params(x.flatten(1))
    z = mean + std * torch.randn(2, *mean.shape)
    log_q = torch.distributions.Normal(mean, std).log_prob(z).sum(-1)
    log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    logits = model.p_x.logits(model.p_x.body(z))
    log_lik = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x.flatten(1).expand_as(logits),
                                                                     reduction="none").sum(-1)
    torch.testing.assert_close(log_w, log_lik + log_prior - log_q)


def test_burda_schedule():
    stages = [burda_lr_factor(e) for e in range(3280)]
    assert stages[0] == 1.0 and stages[1] == stages[3] == 10 ** (-1 / 7) and stages[4] == 10 ** (-2 / 7)
    for i in range(8):  # stage i lasts 3^i epochs
        assert stages.count(10 ** (-i / 7)) == 3 ** i
    assert burda_lr_factor(5000) == pytest.approx(0.1)


def test_training_step_follows_schedule_and_lowers_the_loss():
    torch.manual_seed(0)
    model = IWAE(SHAPE, 2, {"k": 5, "latent": 2, "hidden": [[16]]})
    (opt,) = model.configure_optimizers(1e-2)
    assert opt.defaults["eps"] == 1e-4 and opt.defaults["betas"] == (0.9, 0.999)
    x = torch.cat([torch.zeros(16, *SHAPE), torch.ones(16, *SHAPE)])
    first = model.train_step(x, None, [opt], 0, None)
    for step in range(60):
        logs = model.train_step(x, None, [opt], step, None)
    assert logs["loss"] < first["loss"] - 5
    model.set_epoch(4)
    assert model.train_step(x, None, [opt], 61, None)["lr"] == pytest.approx(1e-2 * 10 ** (-2 / 7))
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2 * 10 ** (-2 / 7))
    assert int(model.state_dict()["epochs_done"]) == 4  # resumes with the schedule where it was


def test_decoder_rules():
    with pytest.raises(ValueError, match="binary data"):
        VAE((1, 28, 28), 256, {})
    grey = VAE((1, 28, 28), 256, {"decoder": "gaussian"})
    assert grey.likelihood == "continuous" and isinstance(grey.p_x, GaussianMLP)
    real = VAE((2,), None, {})
    assert real.decoder == "gaussian" and real.sample_mode == "draw"
    assert isinstance(VAE(SHAPE, 2, {}).p_x, BernoulliMLP)
    with pytest.raises(ValueError, match="layers"):
        VAE(SHAPE, 2, {"layers": 3})


def test_registered_specs_match_the_models():
    reg = load_registry()
    assert not {k: v for k, v in reg.failures.items() if k in ("vae", "iwae")}
    for name, cls in (("vae", VAE), ("iwae", IWAE)):
        spec = reg.items["models"][name]
        model = build_model(spec, reg.dataset("gaussian-full"), {"latent": 2})  # checks the capabilities
        assert type(model) is cls and set(spec.capabilities) == {"elbo", "iw_bound", "sample", "encode"}
        assert spec.budgets["full"] == {"epochs": 3280, "batch_size": 20, "lr": 1e-3}
    assert {"gaussian-diag", "gaussian-full"} <= set(reg.items["datasets"])


def test_posterior_and_prior_for_elbo_surgery():
    from dgmbench.errors import UnsupportedMetric

    model = VAE(SHAPE, 2, {"latent": 3, "hidden": [[5]]})
    q = model.posterior(binary(4))
    assert q.batch_shape == (4,) and q.event_shape == (3,) and model.prior().event_shape == (3,)
    with pytest.raises(UnsupportedMetric, match="two layers"):
        VAE(SHAPE, 2, {"layers": 2, "latent": [3, 2], "hidden": [[5], [5]]}).posterior(binary(4))


def test_artifacts(tmp_path):
    model = VAE((1, 28, 28), 2, {"latent": 2, "hidden": [[16]]})
    (opt,) = model.configure_optimizers(1e-3)
    model.train_step(torch.bernoulli(torch.full((20, 1, 28, 28), 0.2)), None, [opt], 0, None)
    written = model.save_artifacts(tmp_path)
    assert {p.name for p in written} == {"reconstructions.png", "latent_grid.png"}
    assert all(p.stat().st_size > 100 for p in written)
    assert VAE((2,), None, {}).save_artifacts(tmp_path) == []  # vector data: no image grids
    assert math.isfinite(model.elbo(torch.zeros(1, 1, 28, 28)).item())



def _linear_gaussian_hierarchy(shift: float = 0.0):
    """A two-layer model with no hidden layers and constant variances on 2-D data, z_1 and z_2 1-D:
    z_2 ~ N(0, 1), z_1 | z_2 ~ N(A z_2 + a, s_1^2), x | z_1 ~ N(B z_1 + b, diag s_0^2), so
    p(x) = N(B a + b, (A^2 + s_1^2) B B^T + diag s_0^2). Both posteriors are 1-D Gaussians with
    means linear in their input, which the recognition layers represent exactly: q is set to
    them (its first mean moved by ``shift``)."""
    torch.manual_seed(0)
    model = VAE((2,), None, {"layers": 2, "latent": [1, 1], "hidden": [[], []], "decoder": "gaussian"})
    with torch.no_grad():
        for dist in (model.p_z[0], model.p_x):
            dist.log_std.weight.zero_()
            dist.log_std.bias.uniform_(-1.0, -0.3)
        A, a, s1 = model.p_z[0].mean.weight[0, 0], model.p_z[0].mean.bias[0], model.p_z[0].log_std.bias.exp()[0]
        B, b, s0 = model.p_x.mean.weight[:, 0], model.p_x.mean.bias, model.p_x.log_std.bias.exp()
        v1 = A ** 2 + s1 ** 2  # p(z_1) = N(a, v1)
        prec = 1 / v1 + (B ** 2 / s0 ** 2).sum()  # p(z_1 | x)
        q1, q2 = model.q
        q1.mean.weight.copy_((B / s0 ** 2 / prec)[None])
        q1.mean.bias.fill_(float((a / v1 - (B * b / s0 ** 2).sum()) / prec) + shift)
        q1.log_std.weight.zero_(), q1.log_std.bias.fill_(float(-0.5 * prec.log()))
        prec2 = 1 + A ** 2 / s1 ** 2  # p(z_2 | z_1)
        q2.mean.weight.fill_(float(A / s1 ** 2 / prec2)), q2.mean.bias.fill_(float(-A * a / s1 ** 2 / prec2))
        q2.log_std.weight.zero_(), q2.log_std.bias.fill_(float(-0.5 * prec2.log()))
        exact = torch.distributions.MultivariateNormal(B * a + b, v1 * torch.outer(B, B) + torch.diag(s0 ** 2))
    return model, exact


def test_two_layer_weights_are_exact_under_the_exact_posterior():
    """q = p(z_1, z_2 | x) makes every importance weight equal p(x): any wrong term in the
    hierarchical weight log p(x|z_1) + log p(z_1|z_2) + log p(z_2) - log q(z_1|x) - log q(z_2|z_1)
    shows up here."""
    model, exact = _linear_gaussian_hierarchy()
    x = exact.sample((5,))
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 100)
    torch.testing.assert_close(log_w, exact.log_prob(x).expand_as(log_w), atol=1e-4, rtol=0)


def test_two_layer_estimate_closes_the_gap_of_an_imperfect_posterior():
    model, exact = _linear_gaussian_hierarchy(shift=0.5)
    x = exact.sample((5,))
    truth = exact.log_prob(x).double()
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 5000).double()
    elbo, estimate = log_w.mean(0), log_mean_exp(log_w, 0)
    assert (elbo < truth - 0.05).all()
    torch.testing.assert_close(estimate, truth, atol=0.05, rtol=0)
