"""Shared helpers for the GAN tests: isolated results/cache folders and tiny models."""
from __future__ import annotations

import os

import pytest
import torch

from dgmbench.plugins import load_registry
from dgmbench.runner import build_model

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

#: small enough for a CPU test: 2-D MLPs of 32 units, DCGAN width 8
TINY = {"width": 32, "layers": 2, "z_dim": 4}
TINY_IMAGE = {"width": 8, "z_dim": 8}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DGMBENCH_RESULTS", str(tmp_path / "results" / "results.sqlite"))
    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def registry():
    return load_registry()


def make(registry, name: str, dataset: str = "toy2d-ring8", **config):
    """A model through the harness's own builder (which checks its declared capabilities)."""
    spec, ds = registry.model_for(name), registry.dataset(dataset)
    base = TINY if len(ds.shape) == 1 else TINY_IMAGE
    return build_model(spec, ds, {**spec.defaults, **base, **config}), ds
