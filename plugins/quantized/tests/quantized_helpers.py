"""Helpers for the quantized-model tests: dataset specs and random images."""
import torch

from dgmbench.specs import DatasetSpec


def images(shape, levels=256, name="tiny"):
    return DatasetSpec(name, "none:none", tuple(shape), levels=levels)


def rand_images(n, shape, seed=0):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))
