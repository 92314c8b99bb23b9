"""What each GAN's training step hands its loss formulas, and the papers' defaults.

The formula tests (test_losses.py) feed fixed values to a loss; these spy on a real train step:
which loss a model dispatches to, that it gets D's outputs on the real batch and on the fakes G
just made, that a gradient penalty is taken at the right points (WGAN-GP: between a real and a
fake example; DRAGAN: around the real one), that InfoGAN's and AC-GAN's heads are scored against
the codes and labels G was given, that n_critic spaces the G updates, and what EBGAN's hinge and
pulling-away term and BEGAN's controller receive."""
import contextlib

import pytest
import torch
import torch.nn.functional as F
from dgmbench_gans import losses
from gan_helpers import make

NO_AUTOCAST = contextlib.nullcontext
D_LOSS = {"gan": "bce_d", "nsgan": "bce_d", "dragan": "bce_d", "cgan": "bce_d", "acgan": "bce_d",
          "infogan": "bce_d", "lsgan": "ls_d", "wgan": "wasserstein_d", "wgan-gp": "wasserstein_d"}
G_LOSS = {"gan": "minimax_g", "nsgan": "ns_g", "dragan": "ns_g", "cgan": "ns_g", "acgan": "ns_g",
          "infogan": "ns_g", "lsgan": "ls_g", "wgan": "wasserstein_g", "wgan-gp": "wasserstein_g"}
ADVERSARIAL = sorted(set(D_LOSS.values()) | set(G_LOSS.values()))


def spy_calls(monkeypatch, module, names):
    """Replace module.<name> by a wrapper recording (name, args, result); returns the list of calls."""
    calls = []
    for name in names:
        real = getattr(module, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            result = _real(*args, **kwargs)
            calls.append((_name, args, result))
            return result
        monkeypatch.setattr(module, name, wrapper)
    return calls


def record_forward(module):
    """Record (input, output) of every forward call of ``module``."""
    seen = []
    real = module.forward

    def forward(x, *args, **kwargs):
        out = real(x, *args, **kwargs)
        seen.append((x.detach().clone(), out.detach().clone()))
        return out
    module.forward = forward
    return seen


def output_for(seen, x):
    """D's recorded output for the input equal to ``x``."""
    matches = [out for inp, out in seen if inp.shape == x.shape and torch.equal(inp, x)]
    assert matches, "D was never called on this input"
    return matches[-1]


def one_step(model, x, y=None):
    opts = model.configure_optimizers(1e-3)
    return model.train_step(x, y, opts, 0, NO_AUTOCAST)


@pytest.mark.parametrize("name", sorted(D_LOSS))
def test_each_model_dispatches_to_its_losses_with_d_of_real_and_of_fake(registry, monkeypatch, name):
    """One D and one G update: exactly the paper's D loss, then its G loss (minimax only for the
    original GAN; the non-saturating one for NS-GAN, DRAGAN and the conditional models), fed D's
    output on the real batch and on the fakes of that same pass."""
    model, _ = make(registry, name, n_critic=1, batch_norm=False)
    calls = spy_calls(monkeypatch, losses, ADVERSARIAL)
    d_seen = record_forward(model.D)
    g_seen = record_forward(model.G)
    x = torch.randn(16, 2)
    y = torch.randint(0, 8, (16,))
    one_step(model, x, y)
    assert [c[0] for c in calls] == [D_LOSS[name], G_LOSS[name]]
    (d_real, d_fake), (g_fake,) = calls[0][1][:2], calls[1][1]
    fake_d_pass, fake_g_pass = g_seen[0][1], g_seen[1][1]
    torch.testing.assert_close(d_real, output_for(d_seen, x)[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(d_fake, output_for(d_seen, fake_d_pass)[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(g_fake.detach(), output_for(d_seen, fake_g_pass)[:, 0], rtol=0, atol=0)
    assert g_fake.grad_fn is not None  # the G loss backpropagates into G


def test_wgan_gp_penalty_is_taken_between_real_and_fake_examples(registry, monkeypatch):
    """x_hat_i = eps_i x_i + (1 - eps_i) G(z_i), eps_i ~ U[0, 1] (Gulrajani et al., Algorithm 1):
    every point lies on its segment, the eps spread over [0, 1], and the term is lambda = 10
    times the penalty."""
    model, _ = make(registry, "wgan-gp", n_critic=1)
    calls = spy_calls(monkeypatch, losses, ["gradient_penalty"])
    g_seen = record_forward(model.G)
    x = torch.randn(64, 2)
    logs = one_step(model, x)
    ((_, (critic, points), gp),) = calls
    fake = g_seen[0][1]
    direction = x - fake
    eps = ((points - fake) * direction).sum(1) / (direction ** 2).sum(1)
    torch.testing.assert_close(points, eps[:, None] * x + (1 - eps[:, None]) * fake, rtol=0, atol=1e-5)
    assert float(eps.min()) >= -1e-5 and float(eps.max()) <= 1 + 1e-5
    assert float(eps.std()) > 0.15  # uniform: std 0.29; at the reals (or the fakes) every eps is 1 (0)
    torch.testing.assert_close(critic(points), model.D(points)[:, :1])
    assert model.config["gp_lambda"] == 10.0
    torch.testing.assert_close(logs["gp"], 10.0 * gp.detach(), rtol=1e-6, atol=0)


def test_dragan_penalty_is_taken_around_the_real_examples(registry, monkeypatch):
    """x_hat = x + (1 - alpha) 0.5 std(x) u, u ~ U[0, 1]: each point is its real example moved by
    at most half the batch's std, coordinate-wise upward, and not by zero."""
    model, _ = make(registry, "dragan", n_critic=1)
    calls = spy_calls(monkeypatch, losses, ["gradient_penalty"])
    x = torch.randn(64, 2) * 3
    logs = one_step(model, x)
    ((_, (critic, points), gp),) = calls
    shift = points - x
    assert float(shift.min()) >= -1e-6
    assert float(shift.max()) <= 0.5 * float(x.std()) + 1e-5
    assert float(shift.abs().mean()) > 0.05 * float(x.std())
    torch.testing.assert_close(critic(points), model.D(points)[:, :1])
    assert model.config["gp_lambda"] == 10.0
    torch.testing.assert_close(logs["gp"], 10.0 * gp.detach(), rtol=1e-6, atol=0)


def test_n_critic_spaces_the_generator_losses(registry, monkeypatch):
    """WGAN-GP (n_critic = 5 by default): ten steps make ten D losses and two G losses, the G
    losses after the fifth and tenth D loss."""
    model, _ = make(registry, "wgan-gp")
    assert model.n_critic == 5
    calls = spy_calls(monkeypatch, losses, ["wasserstein_d", "wasserstein_g"])
    opts = model.configure_optimizers(1e-4)
    for step in range(10):
        model.train_step(torch.randn(16, 2), None, opts, step, NO_AUTOCAST)
    order = ["G" if c[0] == "wasserstein_g" else "D" for c in calls]
    assert order == ["D"] * 5 + ["G"] + ["D"] * 5 + ["G"]


def test_infogan_information_term_scores_q_against_the_codes_g_was_given(registry, monkeypatch):
    """L_I's cross-entropy compares Q's categorical logits on G(z, c) with the c_cat in G's input,
    and its Gaussian part Q's means with the c_cont in G's input (lambda 1 and 0.1)."""
    model, _ = make(registry, "infogan", n_cat=4, n_cont=2, batch_norm=False)
    calls = spy_calls(monkeypatch, F, ["cross_entropy"])
    d_seen, g_seen = record_forward(model.D), record_forward(model.G)
    logs = one_step(model, torch.randn(32, 2))
    targets = [c[1][1] for c in calls]  # one cross-entropy per pass, D's then G's
    assert len(targets) == 2
    g_input, fake = g_seen[0]
    z_dim = model.z_dim
    cat, cont = g_input[:, z_dim:z_dim + 4].argmax(1), g_input[:, z_dim + 4:]
    out = output_for(d_seen, fake)
    assert (model.config["lambda_cat"], model.config["lambda_cont"]) == (1.0, 0.1)
    torch.testing.assert_close(logs["info_cat"], F.cross_entropy(out[:, 1:5], cat), rtol=1e-6, atol=0)
    torch.testing.assert_close(logs["info_cont"], 0.1 * 0.5 * ((out[:, 5:] - cont) ** 2).sum(1).mean(),
                               rtol=1e-6, atol=0)
    # in the G update too: the codes of the G pass's own draw
    g_input_g, _ = g_seen[1]
    assert torch.equal(targets[1], g_input_g[:, z_dim:z_dim + 4].argmax(1))


def test_acgan_classifier_is_scored_on_real_labels_and_on_the_labels_g_was_given(registry):
    model, _ = make(registry, "acgan", batch_norm=False)
    d_seen, g_seen = record_forward(model.D), record_forward(model.G)
    x, y = torch.randn(32, 2), torch.randint(0, 8, (32,))
    logs = one_step(model, x, y)
    g_input, fake = g_seen[0]
    labels = g_input[:, model.z_dim:].argmax(1)
    torch.testing.assert_close(logs["class_real"], F.cross_entropy(output_for(d_seen, x)[:, 1:], y), rtol=1e-6, atol=0)
    torch.testing.assert_close(logs["class_fake"], F.cross_entropy(output_for(d_seen, fake)[:, 1:], labels),
                               rtol=1e-6, atol=0)


@pytest.mark.parametrize("name,expected", [
    # Arjovsky et al. 2017, Algorithm 1: RMSProp, lr 5e-5, c = 0.01, n_critic = 5
    ("wgan", {"n_critic": 5, "optimizer": "rmsprop", "clip": 0.01, "lr": 5e-5}),
    # Gulrajani et al. 2017, Algorithm 1: lambda 10, n_critic 5, Adam lr 1e-4, betas (0, 0.9)
    ("wgan-gp", {"n_critic": 5, "gp_lambda": 10.0, "beta1": 0.0, "beta2": 0.9, "lr": 1e-4}),
    # Kodali et al. 2017: lambda 10
    ("dragan", {"gp_lambda": 10.0, "n_critic": 1}),
    # Radford et al. 2016 (DCGAN): Adam lr 2e-4, beta1 0.5
    ("nsgan", {"n_critic": 1, "beta1": 0.5, "lr": 2e-4}),
    ("lsgan", {"n_critic": 1, "beta1": 0.5, "lr": 2e-4}),
    # Berthelot et al. 2017: gamma 0.5, lambda_k 0.001, Adam lr 1e-4
    ("began", {"gamma": 0.5, "lambda_k": 0.001, "lr": 1e-4}),
    # Zhao et al. 2017: pulling-away weight 0.1
    ("ebgan", {"pt_weight": 0.1}),
    # Chen et al. 2016: lambda 1 for the categorical code, smaller (0.1) for the continuous ones
    ("infogan", {"lambda_cat": 1.0, "lambda_cont": 0.1, "n_cont": 2}),
])
def test_defaults_are_the_papers(registry, name, expected):
    spec = registry.model_for(name)
    model, _ = make(registry, name)
    got = {k: (spec.budgets["quick"]["lr"] if k == "lr" else model.config[k]) for k in expected}
    assert got == expected


def record_autoencoder(model):
    """Record (input, reconstruction, code) of every pass through an auto-encoder D."""
    seen = []
    real = model.D.forward

    def forward(x):
        rec, code = real(x)
        seen.append((x.detach().clone(), rec.detach().clone(), code.detach().clone()))
        return rec, code
    model.D.forward = forward
    return seen


def test_ebgan_hinges_the_fake_energy_and_pulls_away_the_fake_codes(registry, monkeypatch):
    """L_D = E D_AE(x) + E max(0, m - D_AE(G(z))) with the energies of the real batch and of the
    D pass's fakes; the pulling-away term gets the encoder's codes of the G pass's fakes."""
    model, _ = make(registry, "ebgan")
    calls = spy_calls(monkeypatch, losses, ["pulling_away"])
    seen, g_seen = record_autoencoder(model), record_forward(model.G)
    x = torch.randn(16, 2)
    logs = one_step(model, x)
    (x_in, rec_real, _), (fake_in, rec_fake, _), (g_fake_in, _, g_code) = seen
    assert torch.equal(x_in, x) and torch.equal(fake_in, g_seen[0][1]) and torch.equal(g_fake_in, g_seen[1][1])
    energy = lambda v, r: ((r - v) ** 2).flatten(1).mean(1)  # noqa: E731
    torch.testing.assert_close(logs["energy_real"], energy(x, rec_real).mean(), rtol=1e-6, atol=0)
    margin = model.config["margin"]
    torch.testing.assert_close(logs["hinge_fake"], torch.relu(margin - energy(fake_in, rec_fake)).mean(),
                               rtol=1e-6, atol=0)
    ((_, (code,), _),) = calls
    assert torch.equal(code.detach(), g_code)


def test_began_controller_gets_the_l1_losses_of_the_real_batch_and_the_d_pass_fakes(registry):
    """k_1 = clip(k_0 + lambda_k (gamma L(x) - L(G(z))), 0, 1) with k_0 = 1/2 and the L1 losses of
    this step's real batch and fakes."""
    model, _ = make(registry, "began", lambda_k=0.05)
    model.k.fill_(0.5)
    seen = record_autoencoder(model)
    x = torch.randn(16, 2)
    one_step(model, x)
    (x_in, rec_real, _), (fake_in, rec_fake, _) = seen[:2]
    assert torch.equal(x_in, x)
    l1 = lambda v, r: (r - v).abs().flatten(1).mean(1).mean()  # noqa: E731
    expected = min(max(0.5 + 0.05 * (0.5 * float(l1(x, rec_real)) - float(l1(fake_in, rec_fake))), 0.0), 1.0)
    assert 0 < expected < 1  # inside the clip: the value itself is checked
    assert float(model.k) == pytest.approx(expected, rel=1e-5, abs=1e-9)
