"""Disentanglement scores of a representation against a dataset's ground-truth factors, in the
manner of disentanglement_lib (Locatello et al. 2019): pure functions of a representation function
``represent(images) -> array (n, d)``, a factor sampler (``DataSplit.ground_truth``: factor_sizes,
sample_factors(n, rng), images_for_factors(factors, rng)) and a numpy Generator.

* ``betavae_score`` (Higgins et al. 2017): a point is a batch of L pairs that share one factor y
  (drawn uniformly); its feature is z_diff = (1/L) sum_l |z_l - z'_l|; the score is the test
  accuracy of a linear classifier p(y | z_diff) (scikit-learn's logistic regression).
* ``factorvae_score`` (Kim & Mnih 2018): divide each dimension by its global std (from
  ``variance_points`` samples), drop collapsed dimensions (std < 0.05); a vote fixes one factor for
  a batch and takes argmin_j Var(z_j / s_j); a majority-vote classifier maps each dimension to its
  most-voted factor; the score is its accuracy on fresh votes.
* ``mig`` (Chen et al. 2018): the mutual-information gap, mean over factors k of
  (I(z_a; v_k) - I(z_b; v_k)) / H(v_k), a and b the two dimensions most informative about v_k,
  the representation discretized into ``bins`` equal-width bins per dimension (20: with more
  factor values than bins, as dSprites' 40 orientations, even a perfect code scores below 1).
* ``sap`` (Kumar et al. 2018): mean over factors of the gap between the two best entries of the
  factor's column of a score matrix S (d, K). Discrete factors (disentanglement_lib's default):
  S_jk = test accuracy of ``LinearSVC(C=0.01, class_weight="balanced")`` predicting v_k from z_j
  alone; continuous factors: S_jk = Cov(z_j, v_k)^2 / (Var z_j Var v_k), the R^2 of a linear fit,
  on the training points (0 where Var z_j <= 1e-12). As
  google-research/disentanglement_lib, disentanglement_lib/evaluation/metrics/sap_score.py at
  commit 86a644d4ed35c771560dc3360756363d35477357 (compute_score_matrix, compute_avg_diff_top_two).

Each samples all its factors first, then draws and encodes their images ``chunk`` at a time
(plugins/disentangle/benchmarks/disentanglement_metrics.py compares a per-batch loop).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Represent = Callable[[object], np.ndarray]

#: images drawn and encoded at once. On a 2-core CPU batches of 64 were the fastest (256 took 2.1
#: times the CPU time: the 64x64 activations leave the cache); on a GPU the harness uses 1,024
CHUNK = 64

#: the defaults of disentanglement_lib (betavae: 64 pairs per point; factorvae: 64 images per vote)
DEFAULTS = {"betavae_batch": 64, "betavae_train": 10_000, "betavae_eval": 5_000,
            "factorvae_batch": 64, "factorvae_train": 10_000, "factorvae_eval": 5_000,
            "factorvae_variance_points": 10_000, "mig_points": 10_000, "mig_bins": 20,
            "sap_train": 10_000, "sap_eval": 5_000, "sap_continuous": 0}


def represent_factors(represent: Represent, truth, factors: np.ndarray, rng, chunk: int = CHUNK) -> np.ndarray:
    """The representation of the images of ``factors`` (n, K), encoded ``chunk`` at a time; a
    progress bar on a terminal when that is many chunks (the metrics' default point counts encode
    about two million images)."""
    from tqdm.auto import tqdm

    starts = range(0, len(factors), chunk)
    shown = tqdm(starts, desc=f"encode {len(factors):,} images", unit="chunk", leave=False, dynamic_ncols=True,
                 disable=None if len(starts) >= 50 else True)  # None: only on a terminal
    out = [np.asarray(represent(truth.images_for_factors(factors[i:i + chunk], rng)), dtype=np.float64)
           for i in shown]
    return np.concatenate(out).reshape(len(factors), -1)


def _pairs_sharing_one_factor(truth, points: int, batch: int, rng):
    """Factors of ``points`` x ``batch`` pairs; in point i both halves share factor y_i."""
    y = rng.integers(0, len(truth.factor_sizes), points)
    a = truth.sample_factors(points * batch, rng).reshape(points, batch, -1)
    b = truth.sample_factors(points * batch, rng).reshape(points, batch, -1)
    b[np.arange(points), :, y] = a[np.arange(points), :, y]
    return a, b, y


def betavae_features(represent: Represent, truth, points: int, batch: int, rng, chunk: int = CHUNK):
    """(z_diff (points, d), y (points,)): z_diff = mean over the batch of |z(x) - z(x')|."""
    a, b, y = _pairs_sharing_one_factor(truth, points, batch, rng)
    k = a.shape[-1]
    za = represent_factors(represent, truth, a.reshape(-1, k), rng, chunk)
    zb = represent_factors(represent, truth, b.reshape(-1, k), rng, chunk)
    return np.abs(za - zb).reshape(points, batch, -1).mean(1), y


def betavae_score(represent: Represent, truth, rng: np.random.Generator, batch: int = 64, train: int = 10_000,
                  evaluate: int = 5_000, chunk: int = CHUNK) -> dict:
    """Higgins et al. (2017): accuracy of a logistic regression predicting the shared factor from
    z_diff (disentanglement_lib: sklearn's LogisticRegression with its defaults)."""
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = betavae_features(represent, truth, train, batch, rng, chunk)
    x_eval, y_eval = betavae_features(represent, truth, evaluate, batch, rng, chunk)
    clf = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return {"betavae_score": float(clf.score(x_eval, y_eval)),
            "betavae_train_accuracy": float(clf.score(x_train, y_train))}


def factorvae_votes(represent: Represent, truth, scale: np.ndarray, active: np.ndarray, votes: int, batch: int,
                    rng, chunk: int = CHUNK) -> np.ndarray:
    """Vote counts (K factors, d dims): each vote fixes one factor over a batch and names the
    active dimension of least variance after dividing by the global std."""
    k_factors = len(truth.factor_sizes)
    y = rng.integers(0, k_factors, votes)
    f = truth.sample_factors(votes * batch, rng).reshape(votes, batch, -1)
    f[np.arange(votes), :, y] = f[np.arange(votes), :1, y]
    z = represent_factors(represent, truth, f.reshape(votes * batch, -1), rng, chunk).reshape(votes, batch, -1)
    local = z.var(1, ddof=1)[:, active] / scale[active] ** 2
    arg = np.flatnonzero(active)[local.argmin(1)]
    counts = np.zeros((k_factors, z.shape[-1]), dtype=np.int64)
    np.add.at(counts, (y, arg), 1)
    return counts


def factorvae_score(represent: Represent, truth, rng: np.random.Generator, batch: int = 64, train: int = 10_000,
                    evaluate: int = 5_000, variance_points: int = 10_000, prune_std: float = 0.05,
                    chunk: int = CHUNK) -> dict:
    """Kim & Mnih (2018), as disentanglement_lib computes it; 0 when every dimension collapsed."""
    z = represent_factors(represent, truth, truth.sample_factors(variance_points, rng), rng, chunk)
    scale = z.std(0, ddof=1)
    active = scale >= prune_std
    if not active.any():
        return {"factorvae_score": 0.0, "factorvae_train_accuracy": 0.0, "factorvae_active_dims": 0.0}
    train_votes = factorvae_votes(represent, truth, scale, active, train, batch, rng, chunk)
    eval_votes = factorvae_votes(represent, truth, scale, active, evaluate, batch, rng, chunk)
    assign = train_votes.argmax(0)  # each dimension -> its most-voted factor
    dims = np.arange(train_votes.shape[1])
    acc = lambda v: float(v[assign, dims].sum() / max(v.sum(), 1))
    return {"factorvae_score": acc(eval_votes), "factorvae_train_accuracy": acc(train_votes),
            "factorvae_active_dims": float(active.sum())}


def discretize(z: np.ndarray, bins: int) -> np.ndarray:
    """Each column into ``bins`` equal-width bins over its range (disentanglement_lib's
    _histogram_discretize)."""
    out = np.zeros(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        edges = np.histogram(z[:, j], bins)[1]
        out[:, j] = np.digitize(z[:, j], edges[:-1])
    return out


def mutual_information(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """I(code_j; v_k) in nats, (d, K), for discrete codes and factors (scikit-learn)."""
    from sklearn.metrics import mutual_info_score

    return np.array([[mutual_info_score(factors[:, k], codes[:, j]) for k in range(factors.shape[1])]
                     for j in range(codes.shape[1])])


def mig(represent: Represent, truth, rng: np.random.Generator, points: int = 10_000, bins: int = 20,
        chunk: int = CHUNK) -> dict:
    """Chen et al. (2018): mean_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)."""
    from sklearn.metrics import mutual_info_score

    factors = truth.sample_factors(points, rng)
    z = represent_factors(represent, truth, factors, rng, chunk)
    m = mutual_information(discretize(z, bins), factors)
    entropy = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])
    top = np.sort(m, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    gaps = (top[0] - second) / entropy
    return {"mig": float(gaps.mean()), **{f"mig_{name}": float(g) for name, g in zip(truth.factor_names, gaps)}}


def sap_score_matrix(z_train: np.ndarray, f_train: np.ndarray, z_eval: np.ndarray, f_eval: np.ndarray,
                     continuous: bool = False) -> np.ndarray:
    """S (d, K) of SAP: the test accuracy of a linear SVM predicting factor k from dimension j alone
    (discrete), or the squared correlation of z_j and v_k on the training points (continuous).

    The SVM is scikit-learn's ``LinearSVC(C=0.01, class_weight="balanced")`` as in
    disentanglement_lib; its other settings are scikit-learn's defaults (``dual="auto"`` solves the
    same strictly convex problem in the primal for n >> 1 feature)."""
    from sklearn.svm import LinearSVC

    d, k_factors = z_train.shape[1], f_train.shape[1]
    score = np.zeros((d, k_factors))
    for j in range(d):
        for k in range(k_factors):
            if continuous:
                cov = np.cov(z_train[:, j], f_train[:, k], ddof=1)
                score[j, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[0, 0] > 1e-12 else 0.0
            else:
                clf = LinearSVC(C=0.01, class_weight="balanced").fit(z_train[:, [j]], f_train[:, k])
                score[j, k] = np.mean(clf.predict(z_eval[:, [j]]) == f_eval[:, k])
    return score


def sap_from_matrix(score: np.ndarray) -> np.ndarray:
    """Per factor, the best entry of its column less the second best (0 for a one-dimensional code)."""
    top = np.sort(score, axis=0)[::-1]
    return top[0] - (top[1] if len(top) > 1 else 0.0)


def sap(represent: Represent, truth, rng: np.random.Generator, train: int = 10_000, evaluate: int = 5_000,
        chunk: int = CHUNK, continuous: bool = False) -> dict:
    """Kumar et al. (2018), Section 3, as disentanglement_lib computes it: the mean over factors of
    the gap between the two most predictive code dimensions (``sap_score_matrix``)."""
    f_train, f_eval = truth.sample_factors(train, rng), truth.sample_factors(evaluate, rng)
    z_train = represent_factors(represent, truth, f_train, rng, chunk)
    z_eval = represent_factors(represent, truth, f_eval, rng, chunk)
    gaps = sap_from_matrix(sap_score_matrix(z_train, f_train, z_eval, f_eval, continuous))
    return {"sap": float(np.mean(gaps)), **{f"sap_{name}": float(g) for name, g in zip(truth.factor_names, gaps)}}


# -- the harness's metrics (MetricSpec.compute) -------------------------------------------------

def representation(ctx):
    """(represent, factor sampler, rng, options) for a trained model with ``encode``."""
    import torch

    from ..errors import UnsupportedMetric
    from . import model_input_for

    truth = ctx.test.ground_truth
    if truth is None:
        raise UnsupportedMetric(f"dataset {ctx.dataset.name!r} has no ground-truth factor sampler; the "
                                "disentanglement metrics need one (e.g. --dataset dsprites)")
    model, device = ctx.model, ctx.device

    @torch.no_grad()
    def represent(x):
        """The posterior means of every stochastic layer, side by side (the mean representation)."""
        xi = model_input_for(model, ctx.dataset, x.to(device))
        return torch.cat([z.flatten(1) for z in model.encode(xi)], 1).float().cpu().numpy()

    options = {**DEFAULTS, **{k: v for k, v in ctx.options.items() if k in DEFAULTS}}
    options["chunk"] = 1024 if getattr(device, "type", "cpu") == "cuda" else CHUNK
    return represent, truth, np.random.default_rng(20_000 + ctx.seed), options


def betavae_metric(ctx) -> dict:
    represent, truth, rng, o = representation(ctx)
    return betavae_score(represent, truth, rng, int(o["betavae_batch"]), int(o["betavae_train"]),
                         int(o["betavae_eval"]), o["chunk"])


def factorvae_metric(ctx) -> dict:
    represent, truth, rng, o = representation(ctx)
    return factorvae_score(represent, truth, rng, int(o["factorvae_batch"]), int(o["factorvae_train"]),
                           int(o["factorvae_eval"]), int(o["factorvae_variance_points"]), chunk=o["chunk"])


def mig_metric(ctx) -> dict:
    represent, truth, rng, o = representation(ctx)
    return mig(represent, truth, rng, int(o["mig_points"]), int(o["mig_bins"]), o["chunk"])


def sap_metric(ctx) -> dict:
    represent, truth, rng, o = representation(ctx)
    continuous = str(o["sap_continuous"]).strip().lower() in ("1", "true", "yes")
    return sap(represent, truth, rng, int(o["sap_train"]), int(o["sap_eval"]), o["chunk"], continuous)
