"""The seeds' loss table against hand-computed values, the gradient penalty of a linear critic in
closed form, EBGAN's pulling-away term, BEGAN's k_t update and InfoGAN's bound on I(c; G(z, c))."""
import math

import pytest
import torch
from dgmbench_gans import losses
from dgmbench_gans.models.began import k_update
from gan_helpers import make

L3 = math.log(3.0)  # logit of D = 0.75;  -L3 is the logit of D = 0.25


def test_cross_entropy_losses_by_hand():
    d_real, d_fake = torch.tensor([L3, L3]), torch.tensor([-L3, -L3])   # D(x) = 0.75, D(G(z)) = 0.25
    # L_D = -log D(x) - log(1 - D(G(z))) = -log .75 - log .75
    assert float(losses.bce_d(d_real, d_fake)) == pytest.approx(-2 * math.log(0.75), rel=1e-6)
    assert float(losses.minimax_g(d_fake)) == pytest.approx(math.log(0.75), rel=1e-6)   # log(1 - D(G(z)))
    assert float(losses.ns_g(d_fake)) == pytest.approx(-math.log(0.25), rel=1e-6)       # -log D(G(z))
    # one-sided label smoothing, target .9 for real only
    smooth = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25)) - math.log(0.75)
    assert float(losses.bce_d(d_real, d_fake, 0.9)) == pytest.approx(smooth, rel=1e-6)
    # at D = 1/2 everywhere: 2 log 2, the value of the game at its equilibrium
    assert float(losses.bce_d(torch.zeros(3), torch.zeros(3))) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_least_squares_and_wasserstein_by_hand():
    d_real, d_fake = torch.tensor([0.5, 1.5]), torch.tensor([0.25, -0.25])
    assert float(losses.ls_d(d_real, d_fake)) == pytest.approx(0.25 + 0.0625)       # E(D(x)-1)^2 + E D(G(z))^2
    assert float(losses.ls_g(d_fake)) == pytest.approx((0.5625 + 1.5625) / 2)       # E(D(G(z))-1)^2
    assert float(losses.wasserstein_d(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 0.0]))) == -2.5
    assert float(losses.wasserstein_g(torch.tensor([1.0, 0.0]))) == -0.5


def test_gradient_penalty_of_a_linear_critic_is_closed_form(registry):
    """f(x) = w.x + b has grad f = w everywhere: the penalty is lambda (||w|| - 1)^2 at any points."""
    w = torch.tensor([[3.0, -4.0]])  # ||w|| = 5
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(w)
    points = torch.randn(16, 2)
    assert float(losses.gradient_penalty(critic, points).detach()) == pytest.approx(16.0, rel=1e-6)
    for name in ("wgan-gp", "dragan"):   # both models' penalty term, lambda = 10
        model, _ = make(registry, name)
        model.D = critic
        x, fake = torch.randn(8, 2), torch.randn(8, 2)
        gp = model.extra_d_loss(x, fake, None, None, None, {})["gp"]
        assert float(gp.detach()) == pytest.approx(160.0, rel=1e-6), name


def test_gradient_penalty_in_float64_is_closed_form():
    """f(x) = 1/2 sum_i c_i x_i^2 has grad f = c * x: the penalty is E (||c * x|| - 1)^2, computed in
    the input's float64 (a float32 norm would be off by about 1e-7)."""
    class Quadratic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Parameter(torch.tensor([0.3, 1.7, -2.9], dtype=torch.float64))

        def forward(self, x):
            return (0.5 * self.c * x ** 2).sum(1, keepdim=True)

    g = torch.Generator().manual_seed(0)
    points = torch.randn(64, 3, dtype=torch.float64, generator=g) * 0.37
    critic = Quadratic()
    gp = losses.gradient_penalty(critic, points)
    c, x = critic.c.detach().numpy(), points.numpy()
    expected = ((((c * x) ** 2).sum(1) ** 0.5 - 1) ** 2).mean()
    assert gp.dtype == torch.float64
    assert float(gp.detach()) == pytest.approx(expected, rel=1e-12, abs=0)
    # d/dc_i of E (||c x|| - 1)^2 = E 2 (||c x|| - 1) c_i x_i^2 / ||c x||  (the double-backward path)
    (dc,) = torch.autograd.grad(gp, critic.c)
    n = ((c * x) ** 2).sum(1, keepdims=True) ** 0.5
    torch.testing.assert_close(dc, torch.from_numpy((2 * (n - 1) * c * x ** 2 / n).mean(0)), rtol=1e-12, atol=0)


def test_pulling_away_term():
    assert float(losses.pulling_away(torch.eye(4))) == pytest.approx(0.0, abs=1e-7)     # orthogonal
    assert float(losses.pulling_away(torch.ones(4, 3))) == pytest.approx(1.0, rel=1e-6)  # all parallel
    s = torch.tensor([[1.0, 0.0], [1.0, 1.0]])                                           # cos^2 = 1/2
    assert float(losses.pulling_away(s)) == pytest.approx(0.5, rel=1e-6)


def test_began_k_update_and_clipping(registry):
    assert float(k_update(0.0, 1.0, 0.2, 0.5, 0.001)) == pytest.approx(0.001 * (0.5 - 0.2), rel=1e-12)
    assert float(k_update(0.0, 0.1, 0.5, 0.5, 0.001)) == 0.0     # clipped below
    assert float(k_update(0.9999, 10.0, 0.0, 0.5, 1.0)) == 1.0    # clipped above
    model, _ = make(registry, "began", lambda_k=0.01)
    opts = model.configure_optimizers(1e-3)
    logs = model.train_step(torch.randn(32, 2), None, opts, 0, lambda: torch.autocast("cpu", enabled=False))
    l_real, l_fake = float(logs["l_real"]), float(logs["l_fake"])
    assert float(model.k) == pytest.approx(min(max(0.01 * (0.5 * l_real - l_fake), 0.0), 1.0), rel=1e-5)
    assert float(logs["convergence"]) == pytest.approx(l_real + abs(0.5 * l_real - l_fake), rel=1e-5)


def test_infogan_information_term_is_at_most_the_code_entropy(registry):
    """L_I = H(c) - E[-log Q(c|G(z,c))] <= I(c; G(z, c)) <= H(c) = log n_cat, and equals it for a
    Q that reads the code perfectly (here: a D whose Q logits are the code's one-hot times 50)."""
    model, _ = make(registry, "infogan", n_cat=5, n_cont=1)
    h = math.log(5)
    assert model.mi_lower_bound(256) <= h
    class Oracle(torch.nn.Module):  # Q's categorical logits: 50 x the code G was given
        def forward(self, x):
            return torch.cat([torch.zeros(len(x), 1), 50 * model._code, torch.zeros(len(x), 1)], 1)

    generate = model.generate
    model.generate = lambda draw: (setattr(model, "_code", draw["g_cond"][:, :5]), generate(draw))[1]
    model.D = Oracle()
    assert model.mi_lower_bound(256) == pytest.approx(h, abs=1e-6)
