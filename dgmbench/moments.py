"""The first two moments of a set of feature vectors, shared by the reference statistics of
:mod:`dgmbench.features.reference` and the Frechet distance of :mod:`dgmbench.metrics.frechet`."""
from __future__ import annotations

import numpy as np


def mean_cov(features) -> tuple[np.ndarray, np.ndarray]:
    """Float64 mean and unbiased covariance (rows are examples)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least two feature vectors as a (n, d) array, got shape {f.shape}")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))
