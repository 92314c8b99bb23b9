"""Real NVP (Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP").

Images, in the normalizing direction x -> z (all layers in :mod:`dgmbench_flows.layers`):

    y in [0,1]^D --logit(alpha)--> x --scale 1--> ... --scale L--> z ~ N(0, I),
    scale l < L:  3 affine couplings with checkerboard masks, squeeze (C,H,W) -> (4C,H/2,W/2),
                  3 affine couplings with channel masks, factor out half of the channels;
    scale L:      ``final_couplings`` (4) affine couplings with checkerboard masks.

Affine coupling: z = b x + (1-b)(x exp(s(bx)) + t(bx)), s = gamma tanh(.), log|det| = sum (1-b) s.
The coupling networks are ResNets with no batch statistics (weight normalization optional), so
log p(y) = log N(z) + log|det| is exact per example and a density on [0,1]^D.

Vectors (toy2d): ``couplings`` affine couplings with alternating odd/even masks and MLP networks.

Config keys: alpha, preprocess ("logit" | "none"), scales, channels, blocks, final_couplings,
weight_norm; for vectors couplings, hidden, layers. Defaults follow the dataset shape
(:func:`default_config`): the paper's CIFAR-10 shape (2 scales, 8 blocks, 64 maps, weight norm),
4 blocks / 32 maps on 28x28, and a small model on 8x8 digits for the CPU budget.
"""
from __future__ import annotations

from dgmbench.specs import DatasetSpec

from ..layers import (
    MLP,
    Chain,
    Coupling,
    FactorOut,
    FlowModel,
    LogitTransform,
    ResNet,
    Squeeze,
    Unsqueeze,
    channel_mask,
    checkerboard_mask,
    halvings,
)


def max_scales(shape) -> int:
    """Scales available: each but the last halves H and W; the last keeps a grid of >= 2x2."""
    return 1 + halvings(shape, 2)


def default_config(ds: DatasetSpec) -> dict:
    shape = tuple(ds.shape)
    cfg = {"alpha": 0.05, "preprocess": "logit" if ds.levels is not None else "none"}
    if len(shape) == 1:
        return {**cfg, "couplings": 8, "hidden": 64, "layers": 2}
    c, h, w = shape
    if h * w <= 64:       # 8x8 digits: a small model that trains in seconds on a CPU
        arch = {"scales": 2, "channels": 32, "blocks": 1, "final_couplings": 4, "weight_norm": False}
    elif c == 3 and h >= 32:  # CIFAR-10: "8 residual blocks, 64 feature maps, downscale once"
        arch = {"scales": 2, "channels": 64, "blocks": 8, "final_couplings": 4, "weight_norm": True}
    else:                 # other datasets in the paper: 4 residual blocks, 32 feature maps
        arch = {"scales": min(3, max_scales(shape)), "channels": 32, "blocks": 4, "final_couplings": 4,
                "weight_norm": True}
    return {**cfg, **arch}


def _affine(mask, c_in, cfg):
    net = ResNet(c_in, 2 * c_in, cfg["channels"], cfg["blocks"], cfg["weight_norm"])
    return Coupling(mask, net, "affine", "tanh", channels=c_in)


def scale_block(shape, level: int, cfg) -> Chain:
    """The flow of scale ``level`` (0-based) on an input of ``shape`` = (C, H, W)."""
    c, h, w = shape
    if level == cfg["scales"] - 1:
        return Chain([_affine(checkerboard_mask(shape, i % 2), c, cfg) for i in range(cfg["final_couplings"])])
    sq = (4 * c, h // 2, w // 2)
    return Chain([
        *[_affine(checkerboard_mask(shape, i % 2), c, cfg) for i in range(3)],
        Squeeze(),
        *[_affine(channel_mask(sq, i % 2), 4 * c, cfg) for i in range(3)],
        FactorOut(scale_block((2 * c, h // 2, w // 2), level + 1, cfg)),
        Unsqueeze(),
    ])


def vector_flow(dim: int, cfg) -> Chain:
    if dim < 2:
        raise ValueError("coupling flows need at least 2 dimensions")
    return Chain([Coupling(checkerboard_mask((dim,), i % 2), MLP(dim, 2 * dim, cfg["hidden"], cfg["layers"]))
                  for i in range(cfg["couplings"])])


def build(ds: DatasetSpec, config: dict) -> FlowModel:
    cfg = {**default_config(ds), **(config or {})}
    shape = tuple(ds.shape)
    pre = [LogitTransform(cfg["alpha"])] if cfg["preprocess"] == "logit" else []
    if cfg["preprocess"] not in ("logit", "none"):
        raise ValueError(f"realnvp: preprocess must be 'logit' or 'none', not {cfg['preprocess']!r}")
    if len(shape) == 1:
        body = vector_flow(shape[0], cfg)
    elif len(shape) == 3:
        if cfg["scales"] > max_scales(shape):
            raise ValueError(f"realnvp: {cfg['scales']} scales do not fit images of shape {shape} "
                             f"(at most {max_scales(shape)})")
        body = scale_block(shape, 0, cfg)
    else:
        raise ValueError(f"realnvp: unsupported data shape {shape}")
    return FlowModel(Chain([*pre, body]), shape, "gaussian", clamp=ds.levels is not None, config=cfg)
