"""Isolated results/cache folders, one thread and the registry; the helpers are in gan_helpers.py."""
from __future__ import annotations

import os

import pytest
import torch

from dgmbench.plugins import load_registry
from dgmbench.testing import isolated  # noqa: F401  (autouse: own results file, cache, folder; seed 0)

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


@pytest.fixture(scope="session")
def registry():
    return load_registry()
