"""Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions").

Images, in the normalizing direction (layers in :mod:`dgmbench_flows.layers`):

    y in [0,1]^D --(y - 1/2, or logit)--> level 1 --> ... --> level L --> z ~ N(0, I),
    level l:  squeeze; K steps of flow; then, for l < L, split: half of the channels leaves
              with a learnt prior N(mu(h), sigma(h)^2) conditioned on the other half h, which goes
              on to level l + 1;
    step:     actnorm (data-dependent init) -> invertible 1x1 conv (LU) -> affine coupling,
              z_b = (x_b + t(x_a)) * sigmoid(h(x_a) + 2), log|det| = sum log sigmoid(h + 2).

The learnt prior of a split is written as one more affine coupling (the factored half is
standardized given the kept half: z = (x - mu(h)) / sigma(h), log|det| = -sum log sigma) followed
by an N(0, I) prior, which is the same density.

Vectors (toy2d): K steps of actnorm -> invertible linear map (LU) -> affine coupling with an MLP.

Config keys: levels (L), steps (K), channels (hidden maps of the coupling net), preprocess
("shift", the paper's y - 1/2, or "logit" with ``alpha``); for vectors steps, hidden, layers.
Defaults: the paper's CIFAR-10 shape (L=3, K=32, 512 maps) on 32x32 images, small models on
8x8 digits and 2-D data.
"""
from __future__ import annotations

from dgmbench.specs import DatasetSpec

from ..layers import (
    MLP,
    ActNorm,
    Chain,
    Coupling,
    FactorOut,
    FlowModel,
    GlowNet,
    InvertibleLinearLU,
    LogitTransform,
    Shift,
    Squeeze,
    Unsqueeze,
    channel_mask,
    halvings,
)


def max_levels(shape) -> int:
    """Levels available: each squeezes once (halves H and W)."""
    return halvings(shape, 1)


def default_config(ds: DatasetSpec) -> dict:
    shape = tuple(ds.shape)
    cfg = {"preprocess": "shift" if ds.levels is not None else "none", "alpha": 0.05}
    if len(shape) == 1:
        return {**cfg, "steps": 6, "hidden": 64, "layers": 2}
    c, h, w = shape
    if h * w <= 64:
        return {**cfg, "levels": 2, "steps": 4, "channels": 64}
    if h >= 32 and c == 3:
        return {**cfg, "levels": 3, "steps": 32, "channels": 512}
    return {**cfg, "levels": min(2, max_levels(shape)), "steps": 16, "channels": 256}


def step_of_flow(shape, net) -> Chain:
    c = shape[0]
    return Chain([ActNorm(shape), InvertibleLinearLU(shape),
                  Coupling(channel_mask(shape, 0), net, "affine", "sigmoid", channels=c)])


def level(shape, index: int, cfg) -> Chain:
    """Level ``index`` (0-based) on an input of ``shape`` = (C, H, W)."""
    c, h, w = shape
    sq = (4 * c, h // 2, w // 2)
    layers = [Squeeze()] + [step_of_flow(sq, GlowNet(4 * c, 8 * c, cfg["channels"])) for _ in range(cfg["steps"])]
    if index < cfg["levels"] - 1:
        # learnt prior of the first half given the second (mask 1 = conditioning half)
        layers.append(Coupling(channel_mask(sq, 1), GlowNet(4 * c, 8 * c, cfg["channels"]), "affine", "sigmoid",
                               channels=4 * c))
        layers.append(FactorOut(level((2 * c, h // 2, w // 2), index + 1, cfg)))
    layers.append(Unsqueeze())
    return Chain(layers)


def build(ds: DatasetSpec, config: dict) -> FlowModel:
    cfg = {**default_config(ds), **(config or {})}
    shape = tuple(ds.shape)
    pre = {"shift": [Shift(-0.5)], "logit": [LogitTransform(cfg["alpha"])], "none": []}.get(cfg["preprocess"])
    if pre is None:
        raise ValueError(f"glow: preprocess must be 'shift', 'logit' or 'none', not {cfg['preprocess']!r}")
    if len(shape) == 1:
        d = shape[0]
        if d < 2:
            raise ValueError("glow needs at least 2 dimensions")
        body = Chain([step_of_flow(shape, MLP(d, 2 * d, cfg["hidden"], cfg["layers"])) for _ in range(cfg["steps"])])
    elif len(shape) == 3:
        if not 1 <= cfg["levels"] <= max_levels(shape):
            raise ValueError(f"glow: {cfg['levels']} levels do not fit images of shape {shape} "
                             f"(1 to {max_levels(shape)})")
        body = level(shape, 0, cfg)
    else:
        raise ValueError(f"glow: unsupported data shape {shape}")
    return FlowModel(Chain([*pre, body]), shape, "gaussian", clamp=ds.levels is not None, config=cfg)
