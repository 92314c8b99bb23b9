"""Helpers for the GAN tests: tiny models built through the harness's own builder."""
from __future__ import annotations

from dgmbench.runner import build_model

#: small enough for a CPU test: 2-D MLPs of 32 units, DCGAN width 8
TINY = {"width": 32, "layers": 2, "z_dim": 4}
TINY_IMAGE = {"width": 8, "z_dim": 8}


def make(registry, name: str, dataset: str = "toy2d-ring8", **config):
    """A model through the harness's own builder (which checks its declared capabilities)."""
    spec, ds = registry.model_for(name), registry.dataset(dataset)
    base = TINY if len(ds.shape) == 1 else TINY_IMAGE
    return build_model(spec, ds, {**spec.defaults, **base, **config}), ds
