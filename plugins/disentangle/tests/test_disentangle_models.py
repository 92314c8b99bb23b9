"""beta-VAE, capacity control and FactorVAE on known answers: the capacity objective is the plain
negative ELBO at gamma = beta = 1 and C = 0; FactorVAE's permutation keeps each marginal and
breaks the dependence; the networks have disentanglement_lib's shapes."""
import contextlib

import numpy as np
import pytest
import torch
from dgmbench_disentangle.models import BetaVAE, FactorVAE, permute_dims
from dgmbench_disentangle.networks import build_networks

from dgmbench.specs import DatasetSpec

SMALL = DatasetSpec("tiny", "x:y", (1, 8, 8), levels=2)
CFG = {"latent": 3, "hidden": 32}


def batch(n=16):
    return torch.bernoulli(torch.full((n, 1, 8, 8), 0.3))


def test_capacity_objective_is_the_elbo_at_gamma_beta_one_and_zero_capacity():
    torch.manual_seed(0)
    x = batch()
    capacity = BetaVAE.build(SMALL, {**CFG, "capacity_max": 0.0, "gamma": 1.0})
    plain = BetaVAE.build(SMALL, {**CFG, "beta": 1.0})
    plain.load_state_dict(capacity.state_dict())
    for step in (0, 50):
        torch.manual_seed(1)
        a, logs = capacity.objective(x, step)
        torch.manual_seed(1)
        b, _ = plain.objective(x, step)
        torch.manual_seed(1)
        elbo = plain.elbo(x).mean()
        assert float(logs["capacity"]) == 0.0
        assert a.item() == pytest.approx(b.item(), rel=1e-6) and a.item() == pytest.approx(-elbo.item(), rel=1e-6)


def test_capacity_is_annealed_linearly_and_penalized_on_both_sides():
    m = BetaVAE.build(SMALL, {**CFG, "capacity_max": 25.0, "capacity_steps": 100})
    assert [m.capacity(s) for s in (0, 50, 100, 400)] == [0.0, 12.5, 25.0, 25.0]
    torch.manual_seed(0)
    x = batch()
    loss, logs = m.objective(x, 100)  # KL of an untrained model << 25 nats: |KL - C| = C - KL
    assert loss.item() == pytest.approx((logs["recon"] + 1000.0 * (25.0 - logs["kl"])).item(), rel=1e-5)


def test_beta_scales_the_kl_term():
    torch.manual_seed(0)
    x = batch()
    a, b = BetaVAE.build(SMALL, {**CFG, "beta": 1.0}), BetaVAE.build(SMALL, {**CFG, "beta": 16.0})
    b.load_state_dict(a.state_dict())
    torch.manual_seed(2)
    la, logs = a.objective(x)
    torch.manual_seed(2)
    lb, _ = b.objective(x)
    assert (lb - la).item() == pytest.approx(15.0 * logs["kl"].item(), rel=1e-5)


def test_permutation_keeps_marginals_and_breaks_dependence():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(4000, 1, generator=g)
    z = torch.cat([u, 2 * u + 0.1 * torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g)], 1)
    p = permute_dims(z, g)
    assert torch.equal(p.sort(0).values, z.sort(0).values)  # each column: the same values
    assert np.corrcoef(z[:, 0], z[:, 1])[0, 1] > 0.99
    assert abs(np.corrcoef(p[:, 0], p[:, 1])[0, 1]) < 0.05


def test_factorvae_steps_its_two_optimizers_on_their_own_parameters():
    torch.manual_seed(0)
    m = FactorVAE.build(SMALL, {**CFG, "gamma": 10.0, "disc_hidden": 64})
    vae_opt, disc_opt = m.configure_optimizers(1e-3)
    disc_ids = {id(p) for p in m.discriminator.parameters()}
    assert not disc_ids & {id(p) for g in vae_opt.param_groups for p in g["params"]}
    assert disc_opt.param_groups[0]["betas"] == (0.5, 0.9) and disc_opt.param_groups[0]["lr"] == 1e-4
    x = batch(64)
    before = [p.detach().clone() for p in m.discriminator.parameters()]
    losses = [m.train_step(x, None, [vae_opt, disc_opt], s, contextlib.nullcontext)["disc_loss"].item()
              for s in range(5)]
    assert all(np.isfinite(losses))
    assert any(not torch.equal(a, b) for a, b in zip(before, m.discriminator.parameters()))


def test_networks_have_the_papers_shapes():
    enc, dec = build_networks((1, 64, 64), 10)
    x = torch.zeros(2, 1, 64, 64)
    assert enc(x).shape == (2, 20) and dec(torch.zeros(2, 10)).shape == (2, 1, 64, 64)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64] and all(c.kernel_size == (4, 4) for c in convs)
    enc, dec = build_networks((1, 8, 8), 10)  # small inputs: the fully connected variant
    assert isinstance(enc[1], torch.nn.Linear) and enc[1].out_features == 1200
    with pytest.raises(ValueError, match="64x64"):
        build_networks((1, 8, 8), 10, "conv")
