"""Every model trains through the harness's loop, samples the data's shape and range, counts its
critic and generator updates, keeps WGAN's weights clipped, resumes exactly, and the tricks work."""
import contextlib

import pytest
import torch
from dgmbench_gans.backbone import MinibatchDiscrimination, build_discriminator, build_generator
from gan_helpers import make

from dgmbench.plugins import load_registry
from dgmbench.runner import load_split
from dgmbench.specs import Budget, RunRecord
from dgmbench.training import Hooks, TrainingRun, fit

QUIET = Hooks(progress=False)
MODELS = ["gan", "nsgan", "lsgan", "wgan", "wgan-gp", "dragan", "began", "ebgan", "cgan", "acgan", "infogan"]
NO_AUTOCAST = contextlib.nullcontext


def ring8(n=512):
    ds = load_registry().dataset("toy2d-ring8")
    return load_split(ds, "train", RunRecord(model="gan", dataset="toy2d-ring8"), n)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_on_ring8_without_nan(registry, name):
    model, ds = make(registry, name)
    state = fit(model, ring8(), TrainingRun(ds, Budget("t", epochs=1, batch_size=32, lr=1e-3)), QUIET)
    assert state.step == 16
    x = model.sample(100)
    assert x.shape == (100, 2) and torch.isfinite(x).all()
    if "sample_conditional" in model.capabilities():
        xc = model.sample_conditional(torch.arange(8))
        assert xc.shape == (8, 2) and torch.isfinite(xc).all()


@pytest.mark.parametrize("name,dataset", [("nsgan", "digits"), ("acgan", "digits"), ("began", "digits"),
                                          ("wgan-gp", "digits")])
def test_image_samples_have_the_data_shape_and_range(registry, name, dataset):
    model, ds = make(registry, name, dataset)
    split = load_split(ds, "train", RunRecord(model=name, dataset=dataset), 64)
    fit(model, split, TrainingRun(ds, Budget("t", epochs=1, batch_size=32, lr=2e-4)), QUIET)
    x = model.sample(10)
    assert x.shape == (10, 1, 8, 8) and float(x.min()) >= 0 and float(x.max()) <= 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_backbone_sizes_follow_the_dataset_shape(shape):
    g, d = build_generator(shape, 10, 4), build_discriminator(shape, 4)
    x = g(torch.randn(3, 10))
    assert x.shape == (3, *shape) and float(x.detach().abs().max()) <= 1   # tanh output
    feats = d.features(x)
    assert feats[-1].flatten(1).shape[1] == d.feature_dim and d(x).shape == (3, 1)
    assert [f.shape[-1] for f in feats] == [shape[-1] // 2 ** (i + 1) for i in range(len(feats))]  # strided, no pooling
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in d.modules())


def test_n_critic_updates_per_generator_update_and_clipping(registry):
    model, ds = make(registry, "wgan")
    opts = model.configure_optimizers(0.05)   # a large step, so that clipping has work to do
    g_changes = []
    for step in range(10):
        before = [p.detach().clone() for p in model.G.parameters()]
        model.train_step(torch.randn(32, 2), None, opts, step, NO_AUTOCAST)
        g_changes.append(any(not torch.equal(a, b) for a, b in zip(before, model.G.parameters())))
        assert all(float(p.detach().abs().max()) <= 0.01 + 1e-9 for p in model.D.parameters())
    assert int(model.d_updates) == 10 and int(model.g_updates) == 2
    assert g_changes == [False] * 4 + [True] + [False] * 4 + [True]   # G moves after every 5th critic update


def test_resume_continues_with_identical_generator_weights(registry, tmp_path):
    budget2 = Budget("t", epochs=2, batch_size=32, lr=1e-3)
    data = ring8(256)
    torch.manual_seed(1)
    straight, ds = make(registry, "wgan-gp")
    fit(straight, data, TrainingRun(ds, budget2, checkpoint=tmp_path / "a.pt"), QUIET)
    torch.manual_seed(1)
    first, _ = make(registry, "wgan-gp")
    fit(first, data, TrainingRun(ds, budget2.replace(epochs=1), checkpoint=tmp_path / "b.pt"), QUIET)
    torch.manual_seed(123)   # a fresh process: other initial weights, another random state
    resumed, _ = make(registry, "wgan-gp")
    fit(resumed, data, TrainingRun(ds, budget2, checkpoint=tmp_path / "b.pt", resume=True), QUIET)
    assert int(resumed.g_updates) == int(straight.g_updates) == 3 and int(resumed.d_updates) == 16
    for (name, a), b in zip(straight.G.state_dict().items(), resumed.G.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(first.G.body[0].weight, resumed.G.body[0].weight)   # the second epoch did train


def test_conditional_models_sample_balanced_labels_and_infogan_encodes(registry):
    model, _ = make(registry, "cgan")
    draw = model.draw(80)
    assert torch.bincount(draw["target"], minlength=8).tolist() == [10] * 8
    assert model.num_labels == 8 and model.labels_are_classes
    info, _ = make(registry, "infogan", n_cat=4, n_cont=3)
    assert info.num_labels == 4 and not info.labels_are_classes
    (codes,) = info.encode(torch.randn(5, 2))
    assert codes.shape == (5, 3)


def test_virtual_batch_norm_makes_each_sample_independent_of_its_batch():
    g = build_generator((2,), 4, 16, vbn=True).train()
    z = torch.randn(6, 4)
    alone = g(z[:1])
    together = g(z)
    torch.testing.assert_close(together[:1], alone)                  # VBN: only the reference batch matters
    bn = build_generator((2,), 4, 16).train()
    assert not torch.allclose(bn(z)[:1], bn(torch.cat([z[:1], z[:1] * 3])[:1 + 1])[:1])   # plain BN: it does


def test_minibatch_discrimination_sees_a_collapsed_batch():
    mbd = MinibatchDiscrimination(3, kernels=4)
    varied, same = torch.randn(8, 3) * 5, torch.ones(8, 3)
    with torch.no_grad():
        o_varied, o_same = mbd(varied)[:, 3:], mbd(same)[:, 3:]
    assert torch.allclose(o_same, torch.full_like(o_same, 7.0))      # exp(0) for each of the 7 others
    assert float(o_varied.mean()) < 7.0


def test_all_tricks_together_train(registry):
    model, ds = make(registry, "nsgan", feature_matching=True, minibatch_features=4, historical_averaging=0.01,
                     label_smoothing=0.9, vbn=True, spectral_norm=True)
    assert any(hasattr(m, "parametrizations") for m in model.D.modules())
    state = fit(model, ring8(256), TrainingRun(ds, Budget("t", epochs=1, batch_size=32, lr=1e-3)), QUIET)
    assert state.step == 8 and torch.isfinite(model.sample(50)).all()
    logs = state.history
    assert logs  # the harness logged the run


def test_asking_a_gan_for_nll_is_refused_before_training(tmp_path, capsys):
    from dgmbench.cli import main

    code = main(["run", "--plugin", "nsgan", "--dataset", "toy2d-ring8", "--budget", "smoke", "--metric", "nll",
                 "--no-progress", "--results", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'nll'" in err[0] and "nsgan" in err[0], err
    assert not (tmp_path / "runs").exists()   # nothing trained, no run folder


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast is the CUDA path (no CUDA here)")
@pytest.mark.parametrize("name", MODELS)
def test_bf16_train_steps_on_cuda(registry, name):
    from dgmbench.training import autocast_for

    model, ds = make(registry, name, "digits")
    device = torch.device("cuda")
    model.to(device)
    opts = model.configure_optimizers(2e-4)
    x, y = torch.rand(32, 1, 8, 8, device=device), torch.randint(0, 10, (32,), device=device)
    for step in range(10):
        logs = model.train_step(x, y, opts, step, autocast_for(device))
        assert all(torch.isfinite(v).all() for v in logs.values()), (name, logs)
    assert model.sample(4).dtype == torch.float32 and model.sample(4).device.type == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="device syncs exist only on CUDA (no CUDA here)")
@pytest.mark.parametrize("name", ["nsgan", "wgan-gp", "began"])
def test_train_steps_never_wait_for_the_gpu(registry, name):
    """After the first step (which copies d_updates to the host once), a step queues its work and
    returns: the G-update decision and BEGAN's k_t never read a value back from the GPU."""
    from dgmbench.training import autocast_for

    model, _ = make(registry, name, "digits")
    device = torch.device("cuda")
    model.to(device)
    opts = model.configure_optimizers(2e-4)
    x, y = torch.rand(32, 1, 8, 8, device=device), torch.randint(0, 10, (32,), device=device)
    model.train_step(x, y, opts, 0, autocast_for(device))
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(1, 11):
            model.train_step(x, y, opts, step, autocast_for(device))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert int(model.d_updates) == 11 and int(model.g_updates) == 11 // model.n_critic
