"""Isolated results folders and one thread; the helpers are in flow_helpers.py."""
from __future__ import annotations

import os

import torch

from dgmbench.testing import isolated  # noqa: F401  (autouse: own results file, cache, folder; seed 0)

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
