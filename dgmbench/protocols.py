"""The protocols that regenerate the lecture tables (one per leaderboard).

Each names its cells (model x dataset x config), the labels that join a cell to the reference
CSV shipped in ``dgmbench/references/``, the metrics, and how budgets differ from the harness
defaults. A cell whose model is not installed is skipped by ``dgmbench reproduce`` with a note.
"""
from __future__ import annotations

from .specs import Cell, ProtocolSpec

CIFAR10_MODELS = [  # (model, reference label)
    ("uniform", "Uniform distribution"),
    ("gaussian", "Multivariate Gaussian"),
    ("nice", "NICE"),
    ("realnvp", "Real NVP"),
    ("glow", "Glow"),
    ("pixelcnn", "PixelCNN"),
    ("gated-pixelcnn", "Gated PixelCNN"),
    ("pixelcnnpp", "PixelCNN++"),
]


def builtin_protocols() -> list[ProtocolSpec]:
    return [
        ProtocolSpec(
            name="cifar10-bpd", version="1",
            description="CIFAR-10 test bits/dim of tractable-likelihood models (VLAE Table 3)",
            cells=[Cell(m, m, "cifar10", labels={"model": label}) for m, label in CIFAR10_MODELS],
            metrics=["nll"], reference="cifar10_bits_per_dim.csv", columns={"bpd": "bits_per_dim"},
            budgets={"quick": {"epochs": 1000, "max_seconds": 240, "batch_size": 64}},
            caption="Test bits/dim on CIFAR-10 (lower is better); paper values from Chen et al. 2017, Table 3.",
        ),
        # -- flow / autoregressive protocols (issue 4) --
        # -- latent-variable protocols (issue 3) --
    ]
