"""What the beta-VAE's and FactorVAE's train steps hand their objectives: beta (4 by default,
Higgins et al. 2017's dSprites value), the capacity C of Burgess et al. (2018)'s linear schedule
with gamma 1000 and 100,000 steps, FactorVAE's gamma and the discriminator's two inputs (the
codes of the batch, then those codes beside a column-wise permutation of them)."""
import contextlib
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from dgmbench_disentangle import models, plugin
from dgmbench_disentangle.models import BetaVAE, FactorVAE

from dgmbench.specs import DatasetSpec

SMALL = DatasetSpec("tiny", "x:y", (1, 8, 8), levels=2)
CFG = {"latent": 3, "hidden": 32}
NO_AUTOCAST = contextlib.nullcontext


def batch(n=16):
    return torch.bernoulli(torch.full((n, 1, 8, 8), 0.3), generator=torch.Generator().manual_seed(0))


def spy_terms(model):
    seen = []
    real = model.terms

    def terms(x):
        out = real(x)
        seen.append(tuple(t.detach().clone() for t in out))
        return out
    model.terms = terms
    return seen


def registered(name):
    return next(s for s in plugin.dgmbench_models() if s.name == name)


def test_betavae_hands_its_objective_the_registered_beta():
    beta = registered("betavae").defaults["beta"]
    assert beta == 4.0
    model = BetaVAE.build(SMALL, {**CFG, "beta": beta})
    seen = spy_terms(model)
    (opt,) = model.configure_optimizers(1e-3)
    logs = model.train_step(batch(), None, [opt], 0, NO_AUTOCAST)
    ((recon, kl, _),) = seen
    torch.testing.assert_close(logs["loss"], recon.mean() + 4.0 * kl.sum(1).mean(), rtol=1e-6, atol=0)


def test_capacity_control_hands_the_linear_schedule_and_gamma(monkeypatch):
    """C = C_max min(1, step / 100,000) and gamma = 1000 unless configured (Burgess et al. 2018,
    dSprites); the plugin ends the schedule at the run's step budget."""
    calls = []
    real = models.capacity_loss
    monkeypatch.setattr(models, "capacity_loss", lambda r, k, g, c: (calls.append((g, c)), real(r, k, g, c))[1])
    model = BetaVAE.build(SMALL, {**CFG, "capacity_max": 25.0})
    (opt,) = model.configure_optimizers(1e-4)
    for step in (0, 20_000, 50_000, 100_000, 150_000):
        logs = model.train_step(batch(), None, [opt], step, NO_AUTOCAST)
    assert calls == [(1000.0, 0.0), (1000.0, 5.0), (1000.0, 12.5), (1000.0, 25.0), (1000.0, 25.0)]
    assert float(logs["capacity"]) == 25.0
    record = SimpleNamespace(overrides={}, budget="quick")
    plugin.dgmbench_run_start(record, model, None)
    assert model.capacity_steps == plugin.BUDGETS["quick"]["max_steps"] == 3000


@pytest.mark.parametrize("gamma", [10.0, 40.0])
def test_factorvae_hands_gamma_and_the_discriminator_the_codes_then_their_permutation(monkeypatch, gamma):
    model = FactorVAE.build(SMALL, {**CFG, "gamma": gamma})
    seen = spy_terms(model)
    d_inputs = []
    real_forward = model.discriminator.forward

    def forward(z):
        out = real_forward(z)
        d_inputs.append((z.detach().clone(), z.requires_grad, out.detach().clone()))
        return out
    model.discriminator.forward = forward
    targets = []
    real_ce = F.cross_entropy
    monkeypatch.setattr(F, "cross_entropy", lambda a, t, **k: (targets.append(t.clone()), real_ce(a, t, **k))[1])
    opts = model.configure_optimizers(1e-3)
    logs = model.train_step(batch(32), None, opts, 0, NO_AUTOCAST)
    ((recon, kl, z),) = seen
    (z_vae, grad_vae, logits), (both, grad_disc, _) = d_inputs
    assert torch.equal(z_vae, z) and grad_vae              # TC estimate on the batch's own codes
    tc = (logits[:, 0] - logits[:, 1]).mean()
    torch.testing.assert_close(logs["tc"], tc, rtol=1e-6, atol=0)
    torch.testing.assert_close(logs["loss"], recon.mean() + kl.sum(1).mean() + gamma * tc, rtol=1e-6, atol=1e-6)
    assert not grad_disc                                    # the discriminator's step leaves the VAE alone
    joint, product = both[:32], both[32:]
    assert torch.equal(joint, z)
    for j in range(z.shape[1]):                             # each column a permutation of the same column
        assert torch.equal(product[:, j].sort().values, z[:, j].sort().values)
    assert not torch.equal(product, z)
    assert targets[-1].tolist() == [0] * 32 + [1] * 32      # class 0: q(z); class 1: prod_j q(z_j)
    vae_opt, disc_opt = opts
    assert (disc_opt.defaults["lr"], disc_opt.defaults["betas"]) == (1e-4, (0.5, 0.9))  # Kim & Mnih, App. A
    assert vae_opt.defaults["betas"] == (0.9, 0.999)
