"""Invariants of the IAF VAE (one layer and the CIFAR-10 hierarchy), AF VAE, VLAE (ResNet and
DenseNet), DRAW, Convolutional DRAW and discrete VAE, and a smoke
run of each through the command line (``dgmbench run``, in process)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from dgmbench_flows.autoregressive import MADE, AFPrior, AFStep, IAFPosterior, IAFStep

SHARED_DATA = Path(os.environ.get("DGMBENCH_TEST_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))


def randomize(module, scale=0.5):
    """Non-zero weights everywhere (the output layers start at zero)."""
    torch.manual_seed(0)
    for p in module.parameters():
        p.data.normal_(0, scale)
    return module


@pytest.mark.parametrize("context", [0, 3])
def test_made_output_i_never_sees_inputs_at_or_after_i(context):
    made = randomize(MADE(6, [17, 11], outputs=2, context=context)).double()
    x = torch.randn(6, dtype=torch.float64)
    ctx = torch.randn(context, dtype=torch.float64) if context else None
    for out in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: made(v[None], None if ctx is None else ctx[None])[out][0], x)
        assert torch.all(jac.triu() == 0)                 # d out_i / d x_j = 0 for j >= i
    # and every earlier input has a path to output i (the masks' product is strictly lower triangular and full)
    paths = made.out.mask[:6] @ made.hidden[1].mask @ made.hidden[0].mask
    assert torch.equal(paths > 0, torch.ones(6, 6).tril(-1).bool())


@pytest.mark.parametrize("cls", [IAFStep, AFStep])
@pytest.mark.parametrize("reverse", [False, True])
def test_autoregressive_step_log_det_equals_autograd(cls, reverse):
    step = randomize(cls(5, [12], context=2, reverse=reverse)).double()
    z, h = torch.randn(5, dtype=torch.float64), torch.randn(1, 2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: step(v[None], h)[0][0], z)
    _, logdet = step(z[None], h)
    assert logdet.item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-10)
    if cls is AFStep:  # sampling inverts the density direction
        assert torch.allclose(step.inverse(step(z[None], h)[0], h), z[None], atol=1e-10)


class LinearGaussian(torch.nn.Module):
    """p(z) = AF prior (zero-initialized steps: z ~ N(0, c^(2K) I), c = sigmoid(2)), p(x | z) = N(A z, I);
    q(z | x) = the exact posterior N(m, S) written as N(m / c^T, S / c^(2T)) pushed through T
    zero-initialized IAF steps (each z -> c z). log w = log p(x) exactly for every z."""

    def __init__(self, d=3, steps=2):
        super().__init__()
        torch.manual_seed(1)
        self.A = torch.randn(4, d, dtype=torch.float64)
        self.prior = AFPrior(d, steps, [8]).double()
        self.iaf = IAFPosterior(d, steps, [8], context=4).double()
        self.c, self.steps, self.d = torch.sigmoid(torch.tensor(2.0, dtype=torch.float64)), steps, d

    def prior_cov(self):
        return self.c ** (2 * self.steps) * torch.eye(self.d, dtype=torch.float64)

    def log_importance_weights(self, x, k):
        p0 = self.prior_cov()
        s = torch.linalg.inv(torch.linalg.inv(p0) + self.A.T @ self.A)
        m = x @ self.A @ s
        scale = self.c ** self.steps
        q0 = torch.distributions.MultivariateNormal(m / scale, s / scale ** 2)
        z0 = q0.sample((k,))
        z, log_q = self.iaf(z0, q0.log_prob(z0), x)
        log_px = torch.distributions.Normal(z @ self.A.T, 1.0).log_prob(x).sum(-1)
        return log_px + self.prior.log_prob(z) - log_q

    def exact_log_prob(self, x):
        cov = self.A @ self.prior_cov() @ self.A.T + torch.eye(4, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(torch.zeros(4, dtype=torch.float64), cov).log_prob(x)


def test_importance_sampled_estimate_is_exact_when_the_flow_posterior_is():
    model = LinearGaussian()
    x = torch.randn(5, 4, dtype=torch.float64)
    log_w = model.log_importance_weights(x, 50)
    estimate = torch.logsumexp(log_w, 0) - math.log(50)
    assert torch.allclose(log_w.std(0), torch.zeros(5, dtype=torch.float64), atol=1e-9)  # every weight equal
    assert torch.allclose(estimate, model.exact_log_prob(x), atol=1e-9)


def test_windowed_pixelcnn_sees_exactly_the_window_before_each_pixel():
    from dgmbench_latent.vlae import WindowedPixelCNN

    w = 2
    net = randomize(WindowedPixelCNN(1, 3, 1, w, 4, 1)).double()
    x = torch.rand(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    feats = torch.randn(1, 3, 9, 9, dtype=torch.float64)
    out = net(x, feats)
    for i, j in [(0, 0), (4, 4), (8, 1), (3, 8)]:
        (grad,) = torch.autograd.grad(out[0, 0, i, j], x, retain_graph=True)
        seen = {(a, b) for a in range(9) for b in range(9) if grad[0, 0, a, b] != 0}
        window = {(a, b) for a in range(9) for b in range(9)
                  if (i - w <= a < i and abs(b - j) <= w) or (a == i and j - w <= b < j)}
        assert seen == window, (i, j)
        assert (i, j) not in seen
        x_pad = torch.nn.functional.pad(x.detach(), (w, w, w, w))
        assert torch.allclose(net.pixel(x_pad, feats, i, j)[0, 0, 0, 0], out[0, 0, i, j])


def raster_order(c, h, w):
    """Each (channel, row, col) of a (c, h, w) tensor's rank in the IAF's autoregressive order:
    later positions (raster order) first, then channels in order."""
    ranks = torch.empty(c, h, w, dtype=torch.long)
    for ch in range(c):
        for i in range(h):
            for j in range(w):
                ranks[ch, i, j] = (h * w - 1 - (i * w + j)) * c + ch
    return ranks.flatten()


def test_ar_multiconv_output_never_sees_its_own_or_a_later_input():
    """(m, s) at (channel i, position p) read only inputs earlier in the order: positions after p,
    and at p the channels before i (the authors' conv masks)."""
    from dgmbench_latent.iaf_hierarchy import ARMultiConv

    zc, h, w = 2, 3, 3
    net = randomize(ARMultiConv(zc, 4)).double()
    z = torch.randn(1, zc, h, w, dtype=torch.float64)
    context = torch.randn(1, 4, h, w, dtype=torch.float64)
    order = raster_order(zc, h, w)
    for out in (0, 1):
        jac = torch.autograd.functional.jacobian(lambda v: net(v, context)[out], z).reshape(zc * h * w, zc * h * w)
        later = order[None, :] >= order[:, None]  # input rank >= output rank
        assert jac[later].abs().max() == 0
        assert jac[~later].abs().max() > 0  # and it does read the earlier ones


def test_iaf_step_log_det_is_minus_the_sum_of_s():
    """z = (z0 - m(z0)) exp(-s(z0)): log |det dz/dz0| from autograd equals -sum s, the term
    ``StochasticBlock.down`` adds to log q."""
    from dgmbench_latent.iaf_hierarchy import ARMultiConv

    net = randomize(ARMultiConv(2, 4)).double()
    z0 = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    context = torch.randn(1, 4, 3, 3, dtype=torch.float64)

    def step(v):
        m, s = net(v, context)
        return (v - 0.1 * m) * torch.exp(-0.1 * s)

    jac = torch.autograd.functional.jacobian(step, z0).reshape(18, 18)
    _, log_det = torch.linalg.slogdet(jac)
    assert torch.allclose(log_det, -0.1 * net(z0, context)[1].sum(), atol=1e-10)


def test_hierarchical_iaf_vae_free_bits_and_bound():
    """The training loss takes max(E_batch KL per latent map, kl_min) per map; the bound and the
    importance weights are log p(x | z) - sum of the blocks' KL terms, k samples each."""
    from dgmbench_latent.iaf_hierarchy import build

    torch.manual_seed(0)
    ds = SimpleNamespace(shape=(3, 8, 8), levels=256, name="tiny")
    model = build(ds, {"preset": "small", "kl_min": 1e4}).double()
    x = torch.randint(0, 256, (4, 3, 8, 8)).double() / 255
    log_w = model.log_importance_weights(x, 5)
    assert log_w.shape == (5, 4) and torch.isfinite(log_w).all()
    torch.manual_seed(1)
    loss = model.loss(x)
    torch.manual_seed(1)
    log_px, kls = model._pass(x, 1)
    maps = sum(kl.shape[1] for kl in kls)
    assert maps == 2 * 8  # 2 blocks of z_size 8
    assert torch.allclose(loss, -log_px[0].mean() + maps * 1e4)  # every map below kl_min: clamped
    torch.manual_seed(1)
    bound = model.elbo(x)
    assert torch.allclose(bound, log_px[0] - sum(kl.flatten(1).sum(1) for kl in kls))


def test_dense_block_layers_see_every_earlier_layer():
    """Layer l's input is [h, y_1, ..., y_{l-1}] (its width grows by ``growth`` a layer) and the
    transition maps the concatenation back to the block's width."""
    from dgmbench_latent.pixels import DenseBlock

    block = randomize(DenseBlock(8, layers=3, growth=2)).double()
    assert [c.in_channels for c in block.convs] == [8, 10, 12] and block.transition.in_channels == 14
    h = torch.randn(2, 8, 5, 5, dtype=torch.float64)
    assert block(h).shape == h.shape


def test_densenet_vlae_decoder_never_sees_the_pixel_or_a_later_one():
    """With dense blocks in the encoder and decoder, p(x_i | z, x_window(i)) still reads no pixel
    at or after i: the window is the PixelCNN's, z comes from the posterior."""
    from dgmbench_latent.vlae import build_vlae

    ds = SimpleNamespace(shape=(1, 8, 8), levels=2, name="tiny")
    model = randomize(build_vlae(ds, {"preset": "small", "backbone": "densenet"}), 0.2).double()
    assert any(type(m).__name__ == "DenseBlock" for m in model.modules())
    x = torch.bernoulli(torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)).requires_grad_()
    z = torch.randn(1, 1, model.latent, dtype=torch.float64)
    out = model.decoder_params(z, x)
    for i, j in [(0, 0), (3, 5), (7, 7)]:
        (grad,) = torch.autograd.grad(out[0, 0, 0, i, j], x, retain_graph=True)
        later = [(a, b) for a in range(8) for b in range(8) if (a, b) >= (i, j)]
        assert all(grad[0, 0, a, b] == 0 for a, b in later), (i, j)
        assert grad.abs().sum() > 0 or (i, j) == (0, 0)


@pytest.mark.parametrize("build", ["dgmbench_latent.draw:DRAW.build", "dgmbench_latent.conv_draw:ConvDRAW.build"])
def test_draw_bound_is_the_reconstruction_term_minus_the_kl_terms(build):
    from dgmbench.specs import resolve

    ds = SimpleNamespace(shape=(1, 8, 8), levels=2, name="tiny")
    model = resolve(build)(ds, {"preset": "small", "steps": 3})
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.3))
    torch.manual_seed(5)
    terms = model.bound_terms(x)
    torch.manual_seed(5)
    elbo = model.elbo(x)
    assert terms["kl"].shape == (3, 4) and torch.all(terms["kl"] >= 0)
    assert torch.allclose(elbo, terms["reconstruction"] - terms["kl"].sum(0))
    assert torch.all(elbo < 0)


def test_draw_kl_term_is_the_closed_form_gaussian_kl():
    """Each step's KL term against torch's KL(N(mu, sigma) || N(0, 1)) for the same encoder output."""
    from dgmbench_latent.draw import DRAW

    ds = SimpleNamespace(shape=(1, 8, 8), levels=2, name="tiny")
    model = DRAW.build(ds, {"preset": "small", "steps": 1})
    x = torch.bernoulli(torch.full((3, 1, 8, 8), 0.5))
    zeros = torch.zeros(3, model.units)
    r = model.read(x.flatten(1), x.flatten(1) - 0.5, zeros)
    h_enc, _ = model.enc(torch.cat([r, zeros], -1), (zeros, zeros))
    mu, log_sigma = model.q(h_enc).chunk(2, -1)
    want = torch.distributions.kl_divergence(torch.distributions.Normal(mu, log_sigma.exp()),
                                             torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(model.bound_terms(x)["kl"][0], want, atol=1e-5)


def test_rbm_log_partition_by_enumeration_and_by_ais():
    from dgmbench_latent.dvae import RBM

    torch.manual_seed(3)
    rbm = RBM(4)
    with torch.no_grad():
        rbm.W.normal_(0, 1.0)
        rbm.a.normal_(0, 0.5)
        rbm.b.normal_(0, 0.5)
    states = ((torch.arange(256)[:, None] >> torch.arange(8)) & 1).float()  # all 2^8 joint states
    brute = torch.logsumexp(-rbm.energy(states).double(), 0).item()
    assert rbm.log_z_exact() == pytest.approx(brute, abs=1e-5)  # float32 energies
    ais = rbm.log_z_ais(steps=500, chains=200, generator=torch.Generator().manual_seed(0))
    assert ais == pytest.approx(brute, abs=0.05)


def test_spike_and_exponential_smoothing_has_the_right_marginal():
    from dgmbench_latent.dvae import DiscreteVAE

    ds = SimpleNamespace(shape=(1, 4, 4), levels=2, name="tiny")
    model = DiscreteVAE.build(ds, {"preset": "small", "beta": 4.0})
    q = torch.full((200_000,), 0.3)
    zeta = model.smooth(q, torch.rand_like(q))
    assert (zeta == 0).float().mean().item() == pytest.approx(0.7, abs=0.005)
    positive = zeta[zeta > 0]
    beta = 4.0
    mean = 1 / (1 - math.exp(-beta)) - 1 / beta   # E[zeta] under beta e^(beta zeta) / (e^beta - 1) on [0, 1]
    assert positive.mean().item() == pytest.approx(mean, abs=0.005)
    assert positive.max().item() <= 1.0


def test_dvae_kl_term_is_exact_under_a_factorial_posterior():
    """KL(q || p) with the model's formula against the sum over all 2^(2n) latent states."""
    from dgmbench_latent.dvae import DiscreteVAE

    ds = SimpleNamespace(shape=(1, 4, 4), levels=2, name="tiny")
    model = randomize(DiscreteVAE.build(ds, {"preset": "small", "rbm_units": 3, "hidden": [8]}), 0.3)
    x = torch.bernoulli(torch.full((2, 1, 4, 4), 0.5))
    log_z = model.log_z()
    _, kl = model.elbo_terms(x, log_z)
    q = model.q_probs(x).clamp(1e-6, 1 - 1e-6)
    states = ((torch.arange(64)[:, None] >> torch.arange(6)) & 1).float()
    log_q = (states[:, None] * q.log() + (1 - states[:, None]) * (1 - q).log()).sum(-1)   # (64, 2)
    log_p = -model.rbm.energy(states)[:, None] - log_z
    want = (log_q.exp() * (log_q - log_p)).sum(0)
    assert torch.allclose(kl, want, atol=1e-4)


def cli_run(model, dataset, tmp_path, *extra):
    """``dgmbench run`` in this process (the command line's own entry point); the stored metrics."""
    import sqlite3

    from dgmbench.cli import main

    results = tmp_path / "r.sqlite"
    argv = ["run", "--plugin", model, "--dataset", dataset, "--budget", "smoke", "--config", "preset=small",
            "--results", str(results), "--out", str(tmp_path / "runs"), "--max-test-examples", "32",
            "--grid-samples", "4", "--no-progress", "--device", "cpu", *extra]
    assert main(argv) == 0
    with sqlite3.connect(results) as db:
        rows = db.execute("SELECT name, value FROM metrics").fetchall()
    assert list((tmp_path / "runs").glob(f"{model}-*/samples.png"))
    return dict(rows)


@pytest.mark.parametrize("model", ["iaf-vae", "iaf-hierarchical-vae", "af-vae", "vlae", "conv-draw"])
def test_smoke_run_on_digits(model, tmp_path):
    m = cli_run(model, "digits", tmp_path)
    assert math.isfinite(m["nll"]) and 0 < m["bpd"] < 2 * math.log2(17)
    assert m["nll_is_bound"] == (1.0 if model == "conv-draw" else 0.0)


def test_smoke_run_of_the_densenet_vlae(tmp_path):
    m = cli_run("vlae", "digits", tmp_path, "--config", "backbone=densenet")
    assert math.isfinite(m["nll"]) and 0 < m["bpd"] < 2 * math.log2(17)


@pytest.mark.parametrize("model", ["draw", "dvae"])
def test_smoke_run_on_binarized_mnist(model, tmp_path):
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    m = cli_run(model, "mnist-binary", tmp_path, "--data-root", str(SHARED_DATA))
    assert 100 < m["nll"] < 800
    assert m["nll_is_bound"] == (1.0 if model == "draw" else 0.0)


def test_vlae_claims_hold_and_fail_on_the_numbers():
    import pandas as pd
    from dgmbench_latent.protocols import vlae_claims

    def table(nll, agree):
        return pd.DataFrame({"cell": ["iaf-vae", "af-vae", "vlae"], "nll (ours)": nll,
                             "class_agreement (ours)": [0.9, 0.9, agree], "shuffled_agreement (ours)": [0.1] * 3,
                             "resample_error (ours)": [0.0, 0.0, 0.05]})

    good = vlae_claims(table([81.0, 80.0, 79.0], 0.9))
    assert all("holds in 1 of 1" in line for line in good), good
    bad = vlae_claims(table([79.0, 80.0, 81.0], 0.15))
    assert all("holds in 0 of 1" in line for line in bad), bad
    missing = vlae_claims(pd.DataFrame({"cell": ["vlae"], "nll (ours)": [80.0]}))
    assert all(line.endswith("not measured.") for line in missing)


@pytest.mark.parametrize("build,config,levels,message", [
    ("dgmbench_latent.draw:DRAW.build", {}, 17, "needs binary data"),
    ("dgmbench_latent.dvae:DiscreteVAE.build", {}, 256, "needs binary data"),
    ("dgmbench_latent.vlae:build_vlae", {"preset": "big"}, 2, "preset must be one of paper, small"),
    ("dgmbench_latent.iaf_vae:build", {"prior": "vamp"}, 2, "prior must be gaussian or af"),
    ("dgmbench_latent.vlae:build_vlae", {"backbone": "vgg"}, 2, "backbone must be one of resnet, densenet"),
    ("dgmbench_latent.iaf_hierarchy:build", {"depth": 4}, 2, "needs H and W divisible by 16, not 8x8"),
    ("dgmbench_latent.vlae:build_af_vae", {"window": 0, "decoder": "pixelcnn"}, 2, "window must be at least 1"),
])
def test_configs_the_models_cannot_take_are_refused_by_name(build, config, levels, message):
    from dgmbench.specs import resolve

    ds = SimpleNamespace(shape=(1, 8, 8), levels=levels, name="tiny")
    with pytest.raises(ValueError, match=message):
        resolve(build)(ds, config)
