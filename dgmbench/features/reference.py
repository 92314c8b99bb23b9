"""Reference statistics of a dataset split under a feature network, cached on disk.

Per (dataset, split, feature network, resize mode) the cache holds the float64 mean and
covariance of the features of every example (FID) and a seeded subsample of at most ``cap``
feature vectors (KID, precision/recall), in ``$DGMBENCH_CACHE/refstats/*.npz``. The file records
the hash of what produced it -- dataset name, example count, a hash of the pixels and labels,
the network's name and weights hash, the resize mode, the cap -- and a checksum of its arrays.
A file whose recorded hash differs, whose checksum fails, or that cannot be read is rebuilt,
never used. Reference features are always computed in fp32.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..moments import mean_cov
from . import FeatureNet, cache_dir, data_hash, extract, safe_name, sha256_bytes

FORMAT = 1


@dataclass
class ReferenceStats:
    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray  # a subsample of at most ``cap`` rows, float32
    n: int                # examples behind mu and sigma
    key: str
    path: Path
    computed: bool        # False when read from the cache


def reference_key(net: FeatureNet, dataset_name: str, split_name: str, split, cap: int) -> tuple[str, dict]:
    info = {"format": FORMAT, "dataset": dataset_name, "split": split_name, "n": len(split),
            "data": data_hash(split), "net": net.name, "net_version": net.version, "resize": net.resize_mode,
            "cap": int(cap), "transform": getattr(split.transform, "__name__", None)}
    return hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest(), info


def _checksum(mu, sigma, feats) -> str:
    return sha256_bytes(mu, sigma, feats)


def load(path: Path, key: str) -> ReferenceStats | None:
    """The cached statistics, or None (with a warning) when the file is stale or corrupt."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, sigma, feats = z["mu"], z["sigma"], z["features"]
            stored_key, checksum, n = str(z["key"]), str(z["checksum"]), int(z["n"])
        if stored_key != key:
            raise ValueError("made from other data or another feature network (hash mismatch)")
        if _checksum(mu, sigma, feats) != checksum:
            raise ValueError("checksum mismatch")
        if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise ValueError("non-finite statistics")
    except Exception as exc:
        print(f"warning: reference statistics {path} are unusable ({type(exc).__name__}: {exc}); rebuilding")
        return None
    return ReferenceStats(mu, sigma, feats, n, key, path, computed=False)


def save(path: Path, stats: ReferenceStats, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, mu=stats.mu, sigma=stats.sigma, features=stats.features, n=stats.n, key=stats.key,
                     checksum=_checksum(stats.mu, stats.sigma, stats.features), info=json.dumps(info))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def reference_statistics(net: FeatureNet, dataset_name: str, split_name: str, split, device,
                         batch_size: int = 256, cap: int = 10000, directory: Path | None = None
                         ) -> ReferenceStats:
    """Mean, covariance and a feature subsample of ``split`` under ``net``, from the cache when valid."""
    key, info = reference_key(net, dataset_name, split_name, split, cap)
    directory = Path(directory or cache_dir() / "refstats")
    path = directory / (f"{safe_name(dataset_name)}-{split_name}-{safe_name(net.name)}-{net.resize_mode}"
                        f"-{key[:16]}.npz")
    cached = load(path, key)
    if cached is not None:
        return cached
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(0)  # a split with a random transform (dynamic binarization) draws the same pixels
        feats, _ = extract(net, (x for x, _ in split.batches(batch_size, device=dev)), dev, "fp32")
    mu, sigma = mean_cov(feats)
    keep = np.sort(np.random.default_rng(0).choice(len(feats), min(cap, len(feats)), replace=False))
    stats = ReferenceStats(mu, sigma, np.ascontiguousarray(feats[keep], dtype=np.float32), len(feats), key, path,
                           computed=True)
    save(path, stats, info)
    return stats
