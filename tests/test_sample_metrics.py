"""Sample-quality metrics: closed forms and invariants of the math, and the metric path end to end."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from dgmbench.metrics import frechet


def closed_form_fid(m1, s1, m2, s2):
    """||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) with scipy's general matrix square root."""
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(root)))


def random_cov(rng, d, scale=1.0):
    a = rng.standard_normal((d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


def test_frechet_distance_matches_the_closed_form_exactly():
    rng = np.random.default_rng(0)
    m1, m2 = rng.standard_normal(6), rng.standard_normal(6)
    s1, s2 = random_cov(rng, 6), random_cov(rng, 6, 2.0)
    assert frechet.frechet_distance(m1, s1, m2, s2) == pytest.approx(closed_form_fid(m1, s1, m2, s2), rel=1e-9)
    # diagonal covariances: Tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt a - sqrt b)^2
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    want = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet.frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(want, rel=1e-10)


def test_fid_of_two_gaussian_samples_is_the_closed_form_within_sampling_error():
    rng = np.random.default_rng(1)
    d, n = 4, 40_000
    m1, m2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = random_cov(rng, d), random_cov(rng, d, 1.5)
    x = rng.multivariate_normal(m1, s1, n)
    y = rng.multivariate_normal(m2, s2, n)
    want = closed_form_fid(m1, s1, m2, s2)
    got = frechet.fid_from_features(x, y)
    # sampling error of the plug-in estimate: O(d / n) bias plus O(1/sqrt(n)) noise on O(1) values
    assert abs(got - want) < 0.03 * want + 0.01, (got, want)


def test_fid_of_a_set_with_itself_is_zero():
    f = np.random.default_rng(2).standard_normal((500, 64)) * 3 + 1
    assert frechet.fid_from_features(f, f) < 1e-6


def test_frechet_distance_is_symmetric_and_finite_for_singular_covariances():
    rng = np.random.default_rng(3)
    # 3-d data embedded in 12 dims: both covariances have rank 3 (and fewer samples than dims)
    q, _ = np.linalg.qr(rng.standard_normal((12, 3)))
    x3 = rng.standard_normal((8, 3)) @ np.diag([1.0, 2.0, 0.5])
    y3 = rng.standard_normal((9, 3)) + 1.0
    x, y = x3 @ q.T, y3 @ q.T
    mx, sx = frechet.mean_cov(x)
    my, sy = frechet.mean_cov(y)
    assert np.linalg.matrix_rank(sx) == 3 and np.linalg.matrix_rank(sy) == 3
    ab, ba = frechet.frechet_distance(mx, sx, my, sy), frechet.frechet_distance(my, sy, mx, sx)
    assert math.isfinite(ab) and math.isfinite(ba)
    assert ab == pytest.approx(ba, rel=1e-10)
    # an isometric embedding does not change the distance: the same value as in 3 dims
    assert ab == pytest.approx(frechet.fid_from_features(x3, y3), rel=1e-8)
    # a zero covariance (one repeated point) is fine too
    assert frechet.frechet_distance(np.zeros(5), np.zeros((5, 5)), np.ones(5), np.zeros((5, 5))) == pytest.approx(5)


def test_inception_score_is_the_number_of_classes_for_confident_even_predictions_and_one_for_one_class():
    k, splits = 7, 10
    probs = np.eye(k)[np.arange(k * splits * 3) % k]
    mean, std = frechet.inception_score(probs, splits=splits)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0, abs=1e-12)
    one = np.eye(k)[np.zeros(100, dtype=int)]
    assert frechet.inception_score(one, splits=splits)[0] == pytest.approx(1.0, abs=1e-12)
    # uniform predictions carry no information either
    assert frechet.inception_score(np.full((50, k), 1 / k), splits=5)[0] == pytest.approx(1.0, abs=1e-12)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(4)
    values = []
    for seed in range(40):
        x, y = rng.standard_normal((100, 8)), rng.standard_normal((100, 8))
        values.append(frechet.kernel_inception_distance(x, y, num_subsets=5, subset_size=50, seed=seed)[0])
    values = np.asarray(values)
    shift = frechet.kernel_inception_distance(rng.standard_normal((100, 8)), rng.standard_normal((100, 8)) + 1.0,
                                              num_subsets=5, subset_size=50)[0]
    # unbiased: the mean over repeats is within sampling error of 0, and single estimates go negative
    assert abs(values.mean()) < 3 * values.std() / math.sqrt(len(values)) + 1e-12
    assert (values < 0).any()
    assert shift > 10 * values.std()
    # one subset covering both whole sets equals the formula written out
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4)) + 0.3
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3
    m = 30
    want = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1)) + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
            - 2 * k(x, y).mean())
    assert frechet.kernel_inception_distance(x, y, num_subsets=3, subset_size=30)[0] == pytest.approx(want, rel=1e-10)


def _modes(rng, n, centers):
    idx = rng.integers(0, len(centers), n)
    return centers[idx] + 0.1 * rng.standard_normal((n, centers.shape[1]))


def test_precision_recall_are_not_swapped():
    rng = np.random.default_rng(5)
    centers = 5.0 * np.eye(4, 6)  # four well-separated modes in 6 dims
    real = _modes(rng, 400, centers)
    collapsed = _modes(rng, 400, centers[:1])  # a generator stuck on one mode
    p, r = frechet.precision_recall(real, collapsed, k=3)
    assert p > 0.9 and r < 0.4, (p, r)
    # half of the samples off the data: low precision, full recall
    junk = np.concatenate([_modes(rng, 200, centers), _modes(rng, 200, -centers)])
    p, r = frechet.precision_recall(real, junk, k=3)
    assert 0.35 < p < 0.6 and r > 0.75, (p, r)
    # a copy of the data is perfect
    assert frechet.precision_recall(real, real, k=3) == (1.0, 1.0)


# -- the metric path ----------------------------------------------------------------------------

def test_metrics_through_a_context_with_a_plugin_feature_network(tmp_path, monkeypatch):
    """A model that samples the training data exactly has FID ~ 0, precision = recall = 1 and is
    tagged with the plugin network's name; a feature net without logits has no IS."""
    from dgmbench import FeatureNetworkSpec, hookimpl
    from dgmbench.data import DataSplit
    from dgmbench.errors import DgmbenchError
    from dgmbench.metrics import MetricContext
    from dgmbench.metrics import sample_quality as sq
    from dgmbench.model import Model
    from dgmbench.plugins import load_registry
    from dgmbench.specs import DatasetSpec

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path))
    train = DataSplit(torch.rand(64, 1, 4, 4))

    class Replay(Model):
        likelihood = "none"

        def sample(self, n):
            return train.x[torch.arange(n) % len(train.x)]

    class Plugin:
        @hookimpl
        def dgmbench_feature_networks(self):
            return [FeatureNetworkSpec("pixels", lambda ds, ctx: (lambda x: x.flatten(1)))]

    reg = load_registry({"pixels-plugin": Plugin()})
    ds = DatasetSpec("tiny", "x:y", (1, 4, 4))
    ctx = MetricContext(model=Replay(), dataset=ds, test=train, device=torch.device("cpu"), registry=reg,
                        options={"sample_metric_n": 64, "feature_net": "pixels", "kid_subsets": 5},
                        load_train=lambda: train)
    out = sq.fid(ctx)
    assert out["feature_net"] == "pixels" and out["fid"] < 1e-6
    pr = sq.precision_recall(ctx)
    assert pr["precision"] == 1.0 and pr["recall"] == 1.0
    # the unbiased MMD^2 of a set against itself is 2 [(S - T) / (m (m - 1)) - S / m^2] < 0
    f = train.x.flatten(1).double().numpy()
    kern = (f @ f.T / f.shape[1] + 1) ** 3
    m, total, diag = len(f), kern.sum(), np.trace(kern)
    assert sq.kid(ctx)["kid"] == pytest.approx(2 * ((total - diag) / (m * (m - 1)) - total / m**2), rel=1e-6)
    with pytest.raises(DgmbenchError, match="no class logits"):
        sq.inception_score(ctx)
    # fid_split=test compares with the test split instead (here: other images, so FID > 0)
    ctx.test = DataSplit(torch.rand(64, 1, 4, 4))
    ctx.options["fid_split"] = "test"
    assert sq.fid(ctx)["fid"] > 0.1
    ctx.options["fid_split"] = "valid"
    with pytest.raises(DgmbenchError, match="fid_split"):
        sq.fid(ctx)


def test_end_to_end_gaussian_on_digits_with_the_domain_network(tmp_path, monkeypatch):
    from dgmbench.runner import execute
    from dgmbench.specs import RunRecord
    from dgmbench.store import Store

    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    options = {"feature_net": "domain", "domain_net_steps": 60, "is_splits": 4, "kid_subsets": 5,
               "kid_subset_size": 50}
    kw = dict(model="gaussian", dataset="digits", budget="smoke",
              metrics=["fid", "kid", "inception_score", "precision_recall"])
    results = tmp_path / "r.sqlite"
    if "options" in {f.name for f in dataclasses.fields(RunRecord)}:  # metric options travel in the record
        outcome = execute(RunRecord(**kw, options=options), results=results, progress=False)
    else:
        outcome = execute(RunRecord(**kw), results=results, progress=False, options=options)
    assert outcome.status == "ok"
    m = outcome.metrics
    for name in ("fid", "is", "is_std", "feature_net_accuracy"):
        assert math.isfinite(m[name]), name
    assert m["fid"] > 0 and 1.0 <= m["is"] <= 10.0 and 0.1 < m["feature_net_accuracy"] <= 1.0
    table = Store(results).metrics()
    rows = table[table.metric.isin(["fid", "inception_score"])]
    assert set(rows.name) >= {"fid", "is"} and set(rows.feature_net) == {"domain"}
    # every value every sample metric returned is in the store, unchanged
    stored = dict(zip(table.name, table.value))
    assert set(table.metric) == {"fid", "kid", "inception_score", "precision_recall"}
    assert {"kid", "precision", "recall"} <= set(m) and set(stored) == set(m)
    assert all(stored[name] == value for name, value in m.items())
