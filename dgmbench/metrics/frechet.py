"""Sample-quality statistics of feature vectors: pure math, no networks.

* FID (Heusel et al. 2017), the Frechet distance between Gaussians fitted to two feature sets:
      d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).
  S1 S2 is similar to the PSD matrix S1^{1/2} S2 S1^{1/2}, so Tr (S1 S2)^{1/2} is the sum of
  the singular values (the nuclear norm) of S1^{1/2} S2^{1/2}. Both square roots come from
  symmetric eigen-decompositions with negative round-off clipped to zero: no complex parts, no
  NaN for singular (rank-deficient) covariances, and the nuclear norm of M and of M^T agree,
  so d(1, 2) = d(2, 1). Everything is float64.
* KID (Binkowski et al. 2018): the unbiased estimator of MMD^2 with the cubic polynomial kernel
      k(x, y) = (x . y / d + 1)^3,
      MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
                - 2 sum_{i, j} k(x_i, y_j) / m^2,
  averaged over random subsets of size m (mean and standard deviation reported). Unbiased, so
  it is about 0 (and may be negative) for two samples of one distribution.
* IS (Salimans et al. 2016): exp(E_x KL(p(y | x) || p(y))), p(y) the mean prediction, on
  ``splits`` consecutive parts (mean and standard deviation over parts). It is the number of
  classes for confident predictions spread evenly over the classes and 1 for a single class.
* Precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union of balls
  around its points with radius the distance to the k-th nearest neighbour in the same set;
  precision = the fraction of generated points inside the real manifold, recall = the fraction
  of real points inside the generated manifold.
"""
from __future__ import annotations

import numpy as np
import torch

from ..moments import mean_cov  # noqa: F401  (part of this module's API)


def psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root of a covariance, negative round-off clipped to zero."""
    s = np.asarray(s, dtype=np.float64)
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr (S1 S2)^{1/2} = || S1^{1/2} S2^{1/2} ||_* (sum of singular values)."""
    return float(np.linalg.svd(psd_sqrt(s1) @ psd_sqrt(s2), compute_uv=False).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64, >= 0)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: means {mu1.shape} / {mu2.shape}, covariances {s1.shape} / {s2.shape}")
    for a in (mu1, mu2, s1, s2):
        if not np.isfinite(a).all():
            raise ValueError("non-finite mean or covariance")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    return max(float(value), 0.0)  # a squared distance; only round-off makes it negative


def fid_from_features(f1, f2) -> float:
    return frechet_distance(*mean_cov(f1), *mean_cov(f2))


@torch.no_grad()
def kernel_inception_distance(f1, f2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0,
                              device: str | torch.device = "cpu") -> tuple[float, float]:
    """Mean and standard deviation over subsets of the unbiased MMD^2 (cubic polynomial kernel)."""
    x = torch.as_tensor(np.asarray(f1), dtype=torch.float64, device=device)
    y = torch.as_tensor(np.asarray(f2), dtype=torch.float64, device=device)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets of shapes {tuple(x.shape)} and {tuple(y.shape)} do not match")
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least two examples in each set")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        xs = x[torch.as_tensor(rng.choice(len(x), m, replace=False), device=device)]
        ys = y[torch.as_tensor(rng.choice(len(y), m, replace=False), device=device)]
        kxx = (xs @ xs.T / d + 1) ** 3
        kyy = (ys @ ys.T / d + 1) ** 3
        kxy = (xs @ ys.T / d + 1) ** 3
        within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        values.append((within - 2 * kxy.mean()).item())
    values = np.asarray(values)
    return float(values.mean()), float(values.std())


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` parts of exp E_x KL(p(y|x) || p(y))."""
    from scipy.special import xlogy

    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or not np.allclose(p.sum(1), 1.0, atol=1e-4) or (p < 0).any():
        raise ValueError("inception_score needs an (n, classes) array of probabilities")
    splits = max(1, min(splits, len(p)))
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (xlogy(part, part) - xlogy(part, py)).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def _as_tensor(f, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(f), dtype=torch.float32, device=device)


@torch.no_grad()
def knn_radii(features, k: int = 3, device: str | torch.device = "cpu", chunk: int = 1024) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    f = features if isinstance(features, torch.Tensor) else _as_tensor(features, device)
    if len(f) <= k:
        raise ValueError(f"k-NN radii with k={k} need more than {k} points, got {len(f)}")
    out = []
    for i in range(0, len(f), chunk):
        d = torch.cdist(f[i:i + chunk], f)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the point itself
    return torch.cat(out)


@torch.no_grad()
def fraction_inside(query, reference, radii: torch.Tensor, chunk: int = 1024) -> float:
    """The fraction of ``query`` points inside some ball (reference_j, radii_j)."""
    inside = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i:i + chunk], reference)
        inside.append((d <= radii[None, :]).any(1))
    return torch.cat(inside).float().mean().item()


@torch.no_grad()
def precision_recall(real, fake, k: int = 3, device: str | torch.device = "cpu") -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` against ``real``."""
    r, f = _as_tensor(real, device), _as_tensor(fake, device)
    precision = fraction_inside(f, r, knn_radii(r, k))
    recall = fraction_inside(r, f, knn_radii(f, k))
    return precision, recall
