"""The array-level metrics: scores of your own feature arrays, class probabilities and models,
with no run, dataset or results file. Re-exported as ``dgmbench.metrics.<name>``; the runnable
example and the conventions against clean-fid / torch-fidelity are in docs/metrics.md.

* :func:`fid_from_features` (f_real, f_fake) -> FID, the Frechet distance of the two Gaussian fits;
* :func:`kernel_inception_distance` (f_real, f_fake) -> (KID mean, std) over random subsets;
* :func:`inception_score` (probabilities) -> (IS mean, std) over ``splits`` consecutive parts;
* :func:`precision_recall` (f_real, f_fake, k=3) -> (precision, recall) (Kynkaanniemi et al. 2019);
* :func:`importance_sampled_nll` (model, x, k) -> per-example -log p_k(x) in nats, for any object
  with ``log_importance_weights(x, k)`` returning the (k, batch) log weights
  log p(x, z_i) - log q(z_i | x), z_i ~ q(z | x) (Burda et al. 2016):
      -log p_k(x) = -log (1/k) sum_i w_i,  an upper bound on -log p(x) in expectation, tight as k grows.
"""
from __future__ import annotations

import torch

from .frechet import fid_from_features, inception_score, kernel_inception_distance, precision_recall
from .likelihood import log_mean_weights

__all__ = ["fid_from_features", "kernel_inception_distance", "inception_score", "precision_recall",
           "importance_sampled_nll"]


@torch.no_grad()
def importance_sampled_nll(model, x: torch.Tensor, k: int = 5000, batch_size: int = 64, chunk: int = 500
                           ) -> torch.Tensor:
    """-log p_k(x) per example (float64, nats), ``batch_size`` examples and ``chunk`` of the k
    samples per call of ``model.log_importance_weights`` (the log-sum-exp runs over chunks, so
    memory stays at one chunk). Discrete data: nats of P(x); add D log L yourself for a continuous
    density fed dequantized data (the ``nll`` metric does)."""
    if not callable(getattr(model, "log_importance_weights", None)):
        raise TypeError(f"{type(model).__name__} has no log_importance_weights(x, k)")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return torch.cat([-log_mean_weights(model, xb, k, min(chunk, k))[0] for xb in x.split(batch_size)])
