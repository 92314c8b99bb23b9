"""Tiny diffusion models for the tests (float64)."""
from __future__ import annotations

import torch

from dgmbench.specs import DatasetSpec


def build(name: str, shape=(1, 4, 4), levels=17, **config):
    from dgmbench_diffusion.ddpm import DDPM
    from dgmbench_diffusion.deep_diffusion import DeepDiffusion

    cls = {"ddpm": DDPM, "deep-diffusion": DeepDiffusion}[name]
    torch.manual_seed(0)
    model = cls.build(DatasetSpec("tiny", "none:none", tuple(shape), levels=levels), {"size": "tiny", **config})
    return model.double().eval()
