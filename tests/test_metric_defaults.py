"""Every metric called with its DEFAULTS, each default against the value of the paper or
reference code it follows (the other tests pass most options explicitly, so a changed default
would pass them): the active-units threshold (Burda et al. 2016), the disentanglement point
counts (disentanglement_lib's unsupervised_study_v1 metric configs), FID's sample count (Heusel
et al. 2017), KID's subsets and kernel (Binkowski et al. 2018), IS's splits (Salimans et al.
2016), precision/recall's k (Kynkaanniemi et al. 2019)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dgmbench.data import DataSplit
from dgmbench.metrics import MetricContext, frechet, sample_quality
from dgmbench.metrics import disentanglement as dis
from dgmbench.metrics.latent import active_units
from dgmbench.model import Model
from dgmbench.specs import DatasetSpec


def context(model, x, **options):
    spec = DatasetSpec("toy", load="x:y", shape=tuple(x.shape[1:]), levels=None)
    return MetricContext(model=model, dataset=spec, test=DataSplit(x), load_train=lambda: DataSplit(x),
                         device=torch.device("cpu"), options=options, batch_size=64, seed=0)


class Scaled(Model):
    """encode(x) = [x * scales]: for x = +-1 (population variance exactly 1) unit u has
    Cov_x(E[u | x]) = scales_u^2."""

    likelihood = "none"

    def __init__(self, scales):
        super().__init__({})
        self.scales = torch.tensor(scales)

    def encode(self, x):
        return [x * self.scales]


def test_active_units_default_threshold_is_burdas_0_01():
    """Burda et al. 2016, Sec. 5.2: active when Cov_x(E_q[u | x]) > 10^-2. Units of variance
    0.0098 and 0.0102 straddle it."""
    x = torch.tensor([[1.0, 1.0], [-1.0, -1.0]]).repeat(100, 1)
    out = active_units(context(Scaled([math.sqrt(0.0098), math.sqrt(0.0102)]), x))
    assert out["active_units"] == 1.0 and out["active_units_layer1"] == 1.0


# -- disentanglement: the harness's metrics forward disentanglement_lib's configs ----------------

#: disentanglement_lib/config/unsupervised_study_v1/metric_configs/*.gin (commit 86a644d4)
DISENTANGLEMENT_LIB = {
    "betavae_score": {"batch": 64, "train": 10_000, "evaluate": 5_000},
    "factorvae_score": {"batch": 64, "train": 10_000, "evaluate": 5_000, "variance_points": 10_000,
                        "prune_std": 0.05},
    "mig": {"points": 10_000, "bins": 20},
    "sap": {"train": 10_000, "evaluate": 5_000, "continuous": False},
}
WRAPPERS = {"betavae_score": "betavae_metric", "factorvae_score": "factorvae_metric", "mig": "mig_metric",
            "sap": "sap_metric"}


@pytest.mark.parametrize("score", sorted(DISENTANGLEMENT_LIB))
def test_disentanglement_metrics_default_to_disentanglement_libs_configs(monkeypatch, score):
    import inspect

    real = getattr(dis, score)
    seen = {}

    def spy(*args, **kwargs):
        seen.update(inspect.signature(real).bind(*args, **kwargs).arguments)
        return {}
    monkeypatch.setattr(dis, score, spy)
    truth = SimpleNamespace(factor_sizes=(2,), factor_names=("a",))
    ctx = SimpleNamespace(test=SimpleNamespace(ground_truth=truth), model=None, device=torch.device("cpu"),
                          options={}, seed=0, dataset=None)
    getattr(dis, WRAPPERS[score])(ctx)
    params = inspect.signature(real).parameters
    got = {k: seen.get(k, params[k].default) for k in DISENTANGLEMENT_LIB[score]}
    assert got == DISENTANGLEMENT_LIB[score]


# -- sample quality --------------------------------------------------------------------------------

class Sampler(Model):
    likelihood = "none"

    def __init__(self):
        super().__init__({})
        self.drawn = 0

    def sample(self, n):
        self.drawn += n
        return torch.rand(n, 2)


@pytest.fixture
def fake_features(monkeypatch):
    """The feature network, extraction and reference statistics replaced by fixed arrays; records
    what the formulas receive."""
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((3000, 4))
    net = SimpleNamespace(name="fake", version="1", meta={})
    monkeypatch.setattr(sample_quality, "feature_net_for", lambda ctx: net)
    monkeypatch.setattr(sample_quality, "reference", lambda ctx, net: SimpleNamespace(
        mu=ref.mean(0), sigma=np.cov(ref, rowvar=False), features=ref))

    def extract(net, batches, device, dtype):
        n = sum(len(b) for b in batches)
        probs = np.full((n, 3), 1 / 3)
        return np.random.default_rng(1).standard_normal((n, 4)), probs
    monkeypatch.setattr(sample_quality, "extract", extract)
    seen = {}
    for name in ("kernel_inception_distance", "inception_score", "precision_recall"):
        real = getattr(frechet, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen[_name] = kwargs
            return 0.0, 0.0
        monkeypatch.setattr(frechet, name, spy)
    return seen


def test_sample_metrics_defaults(fake_features):
    model = Sampler()
    ctx = context(model, torch.rand(10, 2))
    out = sample_quality.fid(ctx)
    assert model.drawn == out["sample_n"] == 10_000  # Heusel et al. 2017: at least 10,000 samples
    sample_quality.kid(ctx)
    assert (fake_features["kernel_inception_distance"]["num_subsets"],
            fake_features["kernel_inception_distance"]["subset_size"]) == (100, 1000)  # Binkowski et al. 2018
    sample_quality.inception_score(ctx)
    assert fake_features["inception_score"]["splits"] == 10  # Salimans et al. 2016
    sample_quality.precision_recall(ctx)
    assert fake_features["precision_recall"]["k"] == 3  # Kynkaanniemi et al. 2019
    assert model.drawn == 10_000  # the four metrics share one draw


def test_kid_kernel_is_binkowskis_cubic_polynomial():
    """k(x, y) = (x.y / d + 1)^3; with subsets of the whole sets the estimate is the unbiased
    MMD^2 of the two sets (a permutation leaves it unchanged), computed here with scikit-learn."""
    from sklearn.metrics.pairwise import polynomial_kernel

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), rng.standard_normal((40, 5)) + 0.3
    kern = lambda a, b: polynomial_kernel(a, b, degree=3, gamma=1 / 5, coef0=1)  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = kern(x, x), kern(y, y), kern(x, y)
    mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    mean, std = frechet.kernel_inception_distance(x, y, num_subsets=3, subset_size=m)
    assert mean == pytest.approx(mmd, rel=1e-10) and std == pytest.approx(0.0, abs=1e-10)
