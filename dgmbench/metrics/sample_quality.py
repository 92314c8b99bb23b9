"""Sample-quality metrics for every model with the ``sample`` capability: FID, KID, IS,
precision/recall.

One path for all of them: draw N = ``sample_metric_n`` samples from ``model.sample`` in batches
(clipped to [0, 1]), extract features on the device with the chosen feature network (option
``feature_net``, default ``inception``; ``domain`` trains a classifier of the dataset), and
compare with the cached reference statistics of the dataset's ``fid_split`` (train by default).
Samples and their features are drawn once per run and shared by the four metrics. Every result
carries ``feature_net`` (stored in the metrics table's column) so numbers from different networks
are never mixed. The math is in :mod:`dgmbench.metrics.frechet`.

Options: ``sample_metric_n``, ``feature_net``, ``fid_split`` (train|test), ``feature_dtype``
(fp32|bf16|fp16 autocast for the generated images' features; references are always fp32),
``sample_batch_size``, ``kid_subsets`` (100), ``kid_subset_size`` (1000), ``is_splits`` (10),
``pr_k`` (3), ``ref_feature_cap`` (10000), ``domain_net_steps``.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import distributed
from ..errors import DgmbenchError
from ..features import extract, feature_net_for
from ..features.reference import ReferenceStats, reference_statistics
from . import MetricContext, frechet


def _n(ctx: MetricContext) -> int:
    return int(ctx.options.get("sample_metric_n", 10000))


def sample_batches(ctx: MetricContext, n: int, batch_size: int):
    """``n`` samples from the model in batches on the device, clipped to [0, 1]."""
    model, shape = ctx.model, tuple(ctx.dataset.shape)
    done = 0
    while done < n:
        b = min(batch_size, n - done)
        x = model.sample(b)
        if tuple(x.shape) != (b, *shape):
            raise DgmbenchError(f"model.sample({b}) returned shape {tuple(x.shape)}, expected {(b, *shape)}")
        if not torch.isfinite(x).all():
            raise DgmbenchError("model.sample returned non-finite values; cannot compute sample metrics")
        done += b
        yield x.to(ctx.device).float().clamp(0, 1)


def generated(ctx: MetricContext, net) -> tuple[np.ndarray, np.ndarray | None]:
    """Features and class probabilities of N model samples, drawn once per context and network."""
    n, dtype = _n(ctx), str(ctx.options.get("feature_dtype", "fp32"))
    memo = ctx.__dict__.setdefault("_sample_features", {})
    key = (net.name, net.version, n, dtype)
    if key not in memo:
        model = ctx.model
        was_training = model.training
        model.eval()
        dev = torch.device(ctx.device)
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                # under torchrun each process draws its share of the N samples, and the features are gathered
                torch.manual_seed(20_000 + ctx.seed + 1_000_003 * distributed.rank())
                batches = sample_batches(ctx, distributed.share(n),
                                         int(ctx.options.get("sample_batch_size", ctx.batch_size)))
                feats, probs = extract(net, batches, dev, dtype)
                memo[key] = distributed.gather_rows(feats), distributed.gather_rows(probs)
        finally:
            model.train(was_training)
    return memo[key]


def reference(ctx: MetricContext, net) -> ReferenceStats:
    split_name = str(ctx.options.get("fid_split", "train"))
    if split_name not in ("train", "test"):
        raise DgmbenchError(f"fid_split must be train or test, not {split_name!r}")
    split = ctx.train if split_name == "train" else ctx.test
    return reference_statistics(net, ctx.dataset.name, split_name, split, ctx.device, batch_size=ctx.batch_size,
                                cap=int(ctx.options.get("ref_feature_cap", 10000)))


def _tags(net, n: int) -> dict:
    out = {"feature_net": net.name, "sample_n": float(n)}
    if "accuracy" in net.meta:
        out["feature_net_accuracy"] = float(net.meta["accuracy"])
    return out


def fid(ctx: MetricContext) -> dict:
    """Frechet Inception Distance of N samples against the reference split (Heusel et al. 2017)."""
    net = feature_net_for(ctx)
    feats, _ = generated(ctx, net)
    ref = reference(ctx, net)
    value = frechet.frechet_distance(*frechet.mean_cov(feats), ref.mu, ref.sigma)
    return {"fid": value, **_tags(net, len(feats))}


def kid(ctx: MetricContext) -> dict:
    """Kernel Inception Distance: unbiased MMD^2, cubic kernel, over subsets (Binkowski et al. 2018)."""
    net = feature_net_for(ctx)
    feats, _ = generated(ctx, net)
    ref = reference(ctx, net)
    mean, std = frechet.kernel_inception_distance(
        feats, ref.features, num_subsets=int(ctx.options.get("kid_subsets", 100)),
        subset_size=int(ctx.options.get("kid_subset_size", 1000)), seed=ctx.seed, device=ctx.device)
    return {"kid": mean, "kid_std": std, **_tags(net, len(feats))}


def inception_score(ctx: MetricContext) -> dict:
    """Inception Score of N samples under the feature network's classifier (Salimans et al. 2016)."""
    net = feature_net_for(ctx)
    _, probs = generated(ctx, net)
    if probs is None:
        raise DgmbenchError(f"feature net {net.name!r} gives no class logits, so it has no Inception Score")
    mean, std = frechet.inception_score(probs, splits=int(ctx.options.get("is_splits", 10)))
    return {"is": mean, "is_std": std, **_tags(net, len(probs))}


def precision_recall(ctx: MetricContext) -> dict:
    """Improved precision and recall with k-NN manifolds (Kynkaanniemi et al. 2019), on equal
    numbers of real (reference subsample) and generated feature vectors."""
    net = feature_net_for(ctx)
    feats, _ = generated(ctx, net)
    real = reference(ctx, net).features
    m = min(len(real), len(feats))
    rng = np.random.default_rng(ctx.seed)
    real = real[rng.choice(len(real), m, replace=False)]
    fake = feats[rng.choice(len(feats), m, replace=False)]
    p, r = frechet.precision_recall(real, fake, k=int(ctx.options.get("pr_k", 3)), device=ctx.device)
    return {"precision": p, "recall": r, **_tags(net, m)}
