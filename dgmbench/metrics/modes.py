"""Mode coverage and class-conditional accuracy: model-agnostic checks of what a sampler covers.

``mode_coverage`` (needs ``sample``):

* 2-D mixtures (``toy2d-ring8``, ``toy2d-grid25``; :data:`dgmbench.datasets.MIXTURES`): a sample
  is *high quality* when it lies within 3 standard deviations of its nearest mode center; a mode
  is *covered* when at least ``mode_min_count`` (default 20) high-quality samples fall on it,
  out of ``mode_samples`` (default 2,500) samples (Srivastava et al. 2017, VEEGAN; Lin et al.
  2018, PacGAN). Reports ``modes``, ``high_quality`` (share of samples), ``modes_kl`` =
  KL(p || uniform) = sum_k p_k log(K p_k) of the histogram p of every sample's nearest mode (all
  samples, as Stacked MNIST reads every sample: a generator that puts its mass anywhere near one
  mode scores log K, the largest value), and ``modes_kl_high_quality``, the same KL of the
  high-quality samples only (log K when none is high quality; a handful of good samples spread
  over the modes can score low here, so it is not the table's number).
* Stacked MNIST (``stacked-mnist``): each of the 3 channels of a sample is read by a 10-class
  MNIST classifier (the suite's ``domain`` network, trained on the dataset's own channels), giving
  one of 1,000 modes; ``modes`` = modes with at least ``mode_min_count`` (default 1) of
  ``mode_samples`` (default 26,000) samples, ``modes_kl`` the KL of their histogram to uniform
  over all samples (Metz et al. 2017, Unrolled GANs; VEEGAN; PacGAN: 26,000 samples, with which an
  oracle sampler reaches 1000 (1 - e^-26) = 1,000 modes, where 2,500 reach only 918).
  ``mode_classifier_accuracy`` is the channel classifier's test accuracy, shown beside the count.

``conditional_accuracy`` (needs ``sample_conditional``): ``conditional_samples`` (default 5,000)
samples for class-balanced labels, read by a classifier of the data -- the ``domain`` network for
images, the nearest mode center for the 2-D mixtures (their Bayes classifier: the modes have equal
weights and spreads) -- and the share read as the asked label. For unsupervised codes
(``model.labels_are_classes`` False, InfoGAN) the codes are first matched one-to-one to classes
to maximize the agreement (Hungarian algorithm, scipy's ``linear_sum_assignment``), as
unsupervised clustering accuracy is scored.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DgmbenchError
from . import MetricContext


def _sampled(ctx: MetricContext, n: int, draw) -> torch.Tensor:
    """n outputs of ``draw(batch_size, offset)`` in batches, on the CPU, with seeded noise."""
    out = []
    with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []):
        torch.manual_seed(20_000 + ctx.seed)
        done = 0
        while done < n:
            b = min(ctx.batch_size, n - done)
            x = draw(b, done)
            out.append(x.detach().float().cpu())
            done += b
    x = torch.cat(out)
    if not torch.isfinite(x).all():
        raise DgmbenchError("the model's samples are not finite (NaN or inf)")
    return x


def histogram_kl(counts: np.ndarray) -> float:
    """KL(p || uniform over len(counts)) of the normalized histogram, 0 log 0 = 0."""
    k, total = len(counts), counts.sum()
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return float((p * np.log(p * k)).sum())


def mixture_modes(x: torch.Tensor, centers: np.ndarray, std: float) -> tuple[np.ndarray, np.ndarray]:
    """(nearest mode of each point, whether it lies within 3 std of it)."""
    d = torch.cdist(x.double(), torch.as_tensor(centers, dtype=torch.float64))
    dist, nearest = d.min(1)
    return nearest.numpy(), (dist <= 3 * std).numpy()


def coverage_2d(x: torch.Tensor, centers: np.ndarray, std: float, min_count: int) -> dict:
    nearest, good = mixture_modes(x, centers, std)
    counts = np.bincount(nearest[good], minlength=len(centers))
    return {"modes": float((counts >= min_count).sum()), "high_quality": float(good.mean()),
            "modes_kl": histogram_kl(np.bincount(nearest, minlength=len(centers))),
            "modes_kl_high_quality": histogram_kl(counts), "mode_samples": float(len(x))}


def channel_classifier(ctx: MetricContext):
    """The 10-class digit classifier of Stacked MNIST's channels (the ``domain`` network, trained
    on the dataset's train-split channels and cached like any domain network)."""
    from ..data import DataSplit
    from ..features import domain
    from ..specs import DatasetSpec

    def channels(split):
        if split.factors is None:
            raise DgmbenchError(f"dataset {ctx.dataset.name!r}: stacked digits need per-channel labels (factors)")
        return DataSplit(split.x.reshape(-1, 1, *split.x.shape[2:]), split.factors.reshape(-1))

    train, test = channels(ctx.train), channels(ctx.test)
    spec = DatasetSpec(f"{ctx.dataset.name}-channels", "-:-", (1, *ctx.dataset.shape[1:]), num_classes=10)
    sub = MetricContext(model=None, dataset=spec, test=test, device=ctx.device, options=ctx.options,
                        seed=ctx.seed, load_train=lambda: train)
    return domain.build(spec, sub)


def mode_coverage(ctx: MetricContext) -> dict:
    from ..datasets import MIXTURES

    kind = dict(ctx.dataset.options).get("kind")
    model = ctx.model
    if kind in MIXTURES:
        centers, std = MIXTURES[kind]
        n = int(ctx.options.get("mode_samples", 2500))
        x = _sampled(ctx, n, lambda b, _: model.sample(b))
        return coverage_2d(x, centers, std, int(ctx.options.get("mode_min_count", 20)))
    if ctx.dataset.num_classes == 1000 and tuple(ctx.dataset.shape)[0] == 3:
        net = channel_classifier(ctx)
        n = int(ctx.options.get("mode_samples", 26000))
        x = _sampled(ctx, n, lambda b, _: model.sample(b))
        digits = []
        with torch.no_grad():
            for i in range(0, n, 512):
                chunk = x[i:i + 512]
                logits = net(chunk.reshape(-1, 1, *chunk.shape[2:]).to(ctx.device))[1]
                digits.append(logits.argmax(1).view(len(chunk), 3).cpu())
        d = torch.cat(digits).numpy()
        counts = np.bincount(d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2], minlength=1000)
        return {"modes": float((counts >= int(ctx.options.get("mode_min_count", 1))).sum()),
                "modes_kl": histogram_kl(counts), "mode_samples": float(n),
                "mode_classifier_accuracy": float(net.meta.get("accuracy", float("nan")))}
    raise DgmbenchError(f"mode_coverage needs a 2-D mixture (toy2d-ring8, toy2d-grid25) or stacked-mnist, "
                        f"not {ctx.dataset.name!r}")


def match_accuracy(asked: np.ndarray, read: np.ndarray, k: int, classes: int) -> float:
    """The best one-to-one matching of codes to classes: max over assignments of the share of
    samples whose read class is their code's class (the Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    agree = np.zeros((k, classes))
    np.add.at(agree, (asked, read), 1)
    rows, cols = linear_sum_assignment(agree, maximize=True)
    return float(agree[rows, cols].sum() / len(asked))


def conditional_accuracy(ctx: MetricContext) -> dict:
    from ..datasets import MIXTURES

    model = ctx.model
    k = int(getattr(model, "num_labels", 0) or 0)
    if k < 1:
        raise DgmbenchError(f"conditional_accuracy: model {type(model).__name__} has no num_labels")
    n = int(ctx.options.get("conditional_samples", 5000))
    labels = torch.arange(n) % k
    x = _sampled(ctx, n, lambda b, start: model.sample_conditional(labels[start:start + b].to(ctx.device)))
    kind = dict(ctx.dataset.options).get("kind")
    out = {}
    if kind in MIXTURES:
        centers, _ = MIXTURES[kind]
        read, classes = mixture_modes(x, centers, 1.0)[0], len(centers)
    else:
        from ..features import feature_net_for

        net = feature_net_for(ctx, "domain")
        with torch.no_grad():
            read = torch.cat([net(x[i:i + 512].to(ctx.device))[1].argmax(1).cpu()
                              for i in range(0, n, 512)]).numpy()
        classes = int(ctx.dataset.num_classes or read.max() + 1)
        out["feature_net"] = "domain"
        out["feature_net_accuracy"] = float(net.meta.get("accuracy", float("nan")))
    asked = labels.numpy()
    if getattr(model, "labels_are_classes", True):
        out["conditional_accuracy"] = float((read == asked).mean())
    else:
        out["conditional_accuracy"] = match_accuracy(asked, read, k, classes)
    return out
