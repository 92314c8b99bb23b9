"""Feature networks for the sample-quality metrics, and the on-disk cache they share.

A feature network maps images in [0, 1], shape (B, C, H, W), to ``(features, logits_or_None)``.
Plugins register them with the ``dgmbench_feature_networks`` hook; the built-in ones are
``inception`` (clean-fid's Inception-V3, :mod:`.inception`) and ``domain`` (a small classifier
trained once per dataset, :mod:`.domain`). Every network is wrapped in :class:`FeatureNet`, whose
``name``, ``version`` (a weights hash) and ``resize_mode`` key the reference-statistics cache
(:mod:`.reference`), so numbers from two networks are never mixed.

Cache folder: env ``DGMBENCH_CACHE``, default ``~/.cache/dgmbench``.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from ..errors import DgmbenchError

DTYPES = {"fp32": None, "float32": None, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
          "fp16": torch.float16, "float16": torch.float16}


def cache_dir() -> Path:
    from ..paths import cache_dir as where

    return where()


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(s))


def sha256_bytes(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def tensor_hash(t: torch.Tensor) -> str:
    return sha256_bytes(t.detach().cpu().contiguous().numpy())


_SPLIT_HASHES: dict = {}


def data_hash(split) -> str:
    """A content hash of a DataSplit's pixels and labels, memoized while the same tensors live
    unmodified in this process (a weak reference and torch's in-place version counter)."""
    tensors = (split.x,) if split.y is None else (split.x, split.y)
    state = tuple((weakref.ref(t), t._version) for t in tensors)
    memo = _SPLIT_HASHES.get(tuple(id(t) for t in tensors))
    if memo is not None and all(r() is t and v == t._version for (r, v), t in zip(memo[0], tensors)):
        return memo[1]
    parts = [split.x.detach().cpu().float().contiguous().numpy()]
    if split.y is not None:
        parts.append(split.y.detach().cpu().numpy())
    digest = sha256_bytes(*parts)
    _SPLIT_HASHES[tuple(id(t) for t in tensors)] = (state, digest)
    return digest


class FeatureNet:
    """A feature network with what identifies it: ``name`` (the leaderboard column), ``version``
    (its weights hash), ``resize_mode`` (how images reach it) and ``meta`` (e.g. ``accuracy``)."""

    def __init__(self, fn: Callable[[torch.Tensor], Any], name: str, version: str = "unversioned",
                 resize_mode: str = "none", meta: dict | None = None):
        self.fn, self.name, self.version, self.resize_mode = fn, name, str(version), resize_mode
        self.meta = dict(meta or {})

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.fn(x)
        feats, logits = out if isinstance(out, tuple) else (out, None)
        return feats.flatten(1), logits

    def __repr__(self) -> str:
        return f"FeatureNet({self.name!r}, version={self.version[:12]!r}, resize={self.resize_mode!r})"


def autocast_for(device: torch.device, dtype: str = "fp32"):
    """Autocast to bf16/fp16 for the feature pass (CUDA only), or nothing for fp32.

    Reduced precision is refused on a CPU: there it moved FID by 0.17 against fp32 (the 0.1
    target of ``benchmarks/sample_features.py``) and is not faster than fp32."""
    if dtype not in DTYPES:
        raise DgmbenchError(f"feature_dtype {dtype!r} is not one of fp32, bf16, fp16")
    if DTYPES[dtype] is None:
        return contextlib.nullcontext()
    if torch.device(device).type != "cuda":
        raise DgmbenchError(f"feature_dtype {dtype} is for CUDA devices only; on {device} use fp32 (the default)")
    return torch.autocast(device_type=torch.device(device).type, dtype=DTYPES[dtype])


@torch.no_grad()
def extract(net: FeatureNet, batches: Iterable[torch.Tensor], device, dtype: str = "fp32"
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (float32) and class probabilities (float64, softmax of the logits, or None)."""
    feats, probs = [], []
    for x in batches:
        with autocast_for(device, dtype):
            f, logits = net(x.to(device))
        feats.append(f.float().cpu())
        if logits is not None:
            probs.append(torch.softmax(logits.double(), -1).cpu())
    if not feats:
        raise DgmbenchError("no images to extract features from")
    return torch.cat(feats).numpy(), (torch.cat(probs).numpy() if probs and len(probs) == len(feats) else None)


def check_images(dataset) -> None:
    if len(dataset.shape) != 3:
        raise DgmbenchError(f"sample-quality metrics need image data (C, H, W); dataset {dataset.name!r} "
                            f"has shape {tuple(dataset.shape)}")


def feature_net_for(ctx, name: str | None = None) -> FeatureNet:
    """The feature network a metric context asks for (option ``feature_net``, default
    ``inception``), built once per context."""
    from ..plugins import load_registry
    from ..specs import resolve

    name = name or str(ctx.options.get("feature_net") or "inception")
    memo = ctx.__dict__.setdefault("_feature_nets", {})
    if name in memo:
        return memo[name]
    check_images(ctx.dataset)
    reg = ctx.registry if ctx.registry is not None else load_registry()
    spec = reg.get("feature_networks", name)
    net = resolve(spec.build)(ctx.dataset, ctx)
    if not isinstance(net, FeatureNet):  # a plugin's plain callable
        info = reg.plugins.get(spec.plugin)
        version = getattr(net, "version", None) or f"{spec.plugin}-{getattr(info, 'version', '') or 'unversioned'}"
        net = FeatureNet(net, spec.name, version, getattr(net, "resize_mode", "none"), getattr(net, "meta", None))
    net.name = spec.name
    memo[name] = net
    return net
