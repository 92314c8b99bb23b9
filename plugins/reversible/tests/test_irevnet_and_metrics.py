"""i-RevNet's invertibility, the augmentation, the metrics, and whole runs through the CLI."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from dgmbench_reversible import claims, irevnet
from dgmbench_reversible.irevnet import SpaceToDepth
from dgmbench_reversible.plugin import IREVNET_CPU
from rev_helpers import randomize

from dgmbench.augment import random_crop_flip
from dgmbench.cli import main
from dgmbench.metrics.classification import topk_errors
from dgmbench.metrics.training_cost import SavedTensorMeter
from dgmbench.store import Store

CIFAR = SimpleNamespace(name="cifar10", shape=(3, 32, 32), num_classes=10)


def test_space_to_depth_is_a_permutation():
    psi = SpaceToDepth()
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    z = psi(x)
    assert z.shape == (2, 12, 4, 4)
    assert torch.equal(z.flatten().sort().values, x.flatten())  # every entry once: a permutation
    assert not torch.equal(z.flatten(), x.flatten())
    assert torch.equal(psi.inverse(z), x)
    # the 2x2 patch at (0, 0) of channel 0 becomes four channels at position (0, 0)
    assert z[0, :4, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]


@pytest.mark.parametrize("train", [False, True])
def test_irevnet_inverts_its_features(train):
    """The bijective CPU configuration, shortened: as many numbers out as in, inverted exactly."""
    torch.manual_seed(0)
    net = randomize(irevnet.build(CIFAR, {**IREVNET_CPU, "blocks": [2, 2, 2]}), std=0.02).double().train(train)
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        z = net.features(x)
        assert z.shape == (4, 3 * 32 * 32 // 4, 2, 2)  # bijective: as many numbers as the input
        assert (net.invert(z) - x).abs().max() < 1e-12
    assert net.capabilities() >= {"classify", "invert"}


def test_the_default_cifar_network_is_the_authors():
    """jhjacobsen/pytorch-i-revnet (61b4b49): --nBlocks 18 18 18 --nStrides 1 2 2 --nChannels 16 64 256,
    init_ds 0, mult 4, dropout 0.1; its iRevNet(...) has 6,274,826 parameters and (512, 8, 8) features."""
    torch.manual_seed(0)
    net = irevnet.build(CIFAR, {})
    assert len(net.blocks) == 54 and net.init_ds == 0
    assert sum(p.numel() for p in net.parameters()) == 6_274_826
    assert net.blocks[0].pad == 29 and all(b.pad == 0 for b in net.blocks[1:])  # 3 channels padded to 32
    assert isinstance(net.blocks[0].f[0], torch.nn.Conv2d)  # the first block has no leading BN-ReLU
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.1 for m in net.modules()) == 54
    assert net.head.bn.momentum == 0.9
    net = randomize(net, std=0.02).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        z = net.features(x)
        assert z.shape == (2, 512, 8, 8)
        assert (net.invert(z) - x).abs().max() < 1e-10
        assert net.classify(x).shape == (2, 10)


def test_the_injective_network_inverts_in_training_mode_without_dropout():
    torch.manual_seed(0)
    net = randomize(irevnet.build(CIFAR, {"blocks": [2, 1, 1], "dropout": 0.0}), std=0.02).double().train()
    x = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        z = net.features(x)
        assert z.shape == (3, 512, 8, 8) and (net.invert(z) - x).abs().max() < 1e-9  # batch statistics: ~1e-11


def test_channels_that_psi_cannot_give_are_refused():
    with pytest.raises(ValueError, match="stride-2"):
        irevnet.build(CIFAR, {"channels": [16, 32, 256], "blocks": [1, 1, 1]})


def test_crop_flip_is_a_seeded_window_of_the_padded_image():
    x = torch.rand(16, 3, 8, 8)
    out = random_crop_flip(x, padding=2, generator=torch.Generator().manual_seed(1))
    again = random_crop_flip(x, padding=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again) and out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flips = 0
    for i in range(16):
        windows = [padded[i, :, a:a + 8, b:b + 8] for a in range(5) for b in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        flipped = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or flipped
        flips += flipped and not plain
    assert 0 < flips < 16
    assert torch.equal(random_crop_flip(x, padding=0, flip=False), x)


def test_topk_errors_closed_form():
    logits = torch.tensor([[5.0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5], [0, 5, 1, 2, 3, 4]])
    y = torch.tensor([0, 0, 1])
    assert topk_errors(logits, y, (1, 5)) == {1: 1, 5: 1}  # the second's label ranks last


def test_saved_tensor_meter_counts_what_autograd_keeps():
    w = torch.nn.Parameter(torch.ones(1000))
    x = torch.rand(1000, requires_grad=True)
    with SavedTensorMeter(exclude=[w]) as meter:
        y = torch.exp(x * w)   # mul saves x (and w, excluded); exp saves its result
        assert meter.bytes == 2 * 4000
        y.sum().backward()
        del y
    assert meter.peak == 8000 and meter.bytes == 0


def test_memory_claims_read_the_table():
    df = pd.DataFrame({"cell": ["resnet32", "resnet110", "resnet164", "revnet38", "revnet110", "revnet164"],
                       "saved_mib (ours)": [10.0, 30, 50, 5, 5.2, 6]})
    text = " ".join(claims.revnet_memory(df))
    assert "RevNet-164 within 1.3x of RevNet-38 (saved for backward): holds in 1 of 1" in text
    assert "ResNet's memory grows with depth (saved for backward): holds in 2 of 2" in text
    assert "RevNet-164 at most 0.35x ResNet-164 (saved for backward): holds in 1 of 1" in text
    df.loc[5, "saved_mib (ours)"] = 40.0
    assert "fails" in " ".join(claims.revnet_memory(df))


def test_irevnet_run_end_to_end(tmp_path, capsys):
    """The CLI trains i-RevNet on the embedded digits and scores accuracy and invertibility."""
    code = main(["run", "--plugin", "irevnet", "--budget", "smoke", "--no-progress", "--metric", "accuracy",
                 "--metric", "reconstruction_error", "--metric", "parameters", "--results", str(tmp_path / "r.sqlite")])
    assert code == 0, capsys.readouterr().err
    m = Store(tmp_path / "r.sqlite").metrics().set_index("name").value
    assert 0 <= m["top1_error"] <= 100 and m["top5_error"] <= m["top1_error"]
    assert m["reconstruction_error"] < 1e-5 and m["parameters"] > 1000


def test_metric_refused_for_a_model_without_invert(tmp_path, capsys):
    code = main(["run", "--plugin", "resnet", "--budget", "smoke", "--no-progress", "--metric",
                 "reconstruction_error", "--results", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "reconstruction_error" in err and "invert" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("budget", ["smoke", "quick", "full"])
def test_revnet_memory_trains_nothing_under_every_budget(budget):
    """The model's budgets refine the protocol's; they must not bring training back."""
    from dgmbench.plugins import load_registry
    from dgmbench.runner import plan
    from dgmbench.specs import RunRecord
    from dgmbench.training import planned_steps

    reg = load_registry()
    for cell in reg.get("protocols", "revnet-memory").cells:
        record = RunRecord(model=cell.model, dataset=cell.dataset, protocol="revnet-memory", cell=cell.key,
                           budget=budget)
        assert planned_steps(plan(reg, record).budget, 10000) == 0


def test_float64_reconstruction_tells_rounding_from_a_wrong_inverse():
    """The float64 copy inverts an i-RevNet to ~1e-12; a model whose invert is off by 1e-3 keeps
    that error in float64, and the claim on it fails."""
    from dgmbench.metrics.invertibility import reconstruction_error

    class Shifted(torch.nn.Module):
        def features(self, x):
            return 2 * x

        def invert(self, z):
            return z / 2 + 1e-3

    x = torch.rand(8, 3, 32, 32)
    ctx = lambda m: SimpleNamespace(model=m, dataset=SimpleNamespace(levels=256),  # noqa: E731
                                    test_batches=lambda model_input: [(x, None)])
    good = reconstruction_error(ctx(irevnet.build(CIFAR, dict(IREVNET_CPU))))
    bad = reconstruction_error(ctx(Shifted()))
    assert good["reconstruction_error_float64"] < 1e-9 and good["reconstruction_error"] < 1e-4
    assert bad["reconstruction_error_float64"] == pytest.approx(1e-3, rel=1e-6)
    df = pd.DataFrame({"cell": ["a", "b"], "reconstruction_error (ours)": [1e-6, 1e-3],
                       "reconstruction_error_float64 (ours)": [1e-12, 1e-3]})
    text = " ".join(claims.irevnet(df))
    assert "exact inverse of features (float64 max error < 1e-6): holds in 1 of 2" in text and "b: float64" in text
