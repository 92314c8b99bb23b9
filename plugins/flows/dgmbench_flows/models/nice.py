"""NICE (Dinh, Krueger & Bengio 2015, "NICE: Non-linear Independent Components Estimation").

On the flattened data x in R^D (normalizing direction x -> z):

    h^(i) = additive coupling with the odd/even partition alternating at each layer:
            h_{I1} = x_{I1},  h_{I2} = x_{I2} + m(x_{I1})      (log|det| = 0, volume preserving),
    z     = exp(s) * h^(K)                                     (final diagonal scaling, log|det| = sum s),
    log p(x) = sum_d log p_d(z_d) + sum_d s_d,

with m an MLP of ``layers`` hidden ReLU layers of ``hidden`` units, and a standard logistic
(``prior="logistic"``, the paper's choice for MNIST, SVHN, CIFAR-10) or Gaussian prior.

Preprocessing (``preprocess``) of data with discrete levels:

* ``"logit"`` (the default): Real NVP's logit transform with ``alpha``, log-det included, so the
  model is a density on (a neighbourhood of) [0, 1]^D;
* ``"none"`` (the paper's setting): the dequantized data in [0, 1]^D is modelled as it is by a
  density on R^D (its mass on [0, 1]^D is below 1, so the NLL is still an upper bound). With Adam at
  lr 1e-3 the final scaling needs many steps to stretch [0, 1] to the logistic prior's width: on
  8x8 digits it gives 4.8 bits/dim after 15 s of CPU training where ``"logit"`` gives 2.4.

Real-valued data (toy2d) is never preprocessed.

Defaults follow the paper by dimension: 4 couplings; 5 x 1000 units on MNIST-sized data,
4 x 2000 on CIFAR-10; smaller nets on 8x8 digits and 2-D data.
"""
from __future__ import annotations

import math

from dgmbench.specs import DatasetSpec

from ..layers import MLP, Chain, Coupling, DiagonalScale, Flatten, FlowModel, LogitTransform, checkerboard_mask


def default_config(ds: DatasetSpec) -> dict:
    d = math.prod(ds.shape)
    cfg = {"couplings": 4, "prior": "logistic", "preprocess": "logit" if ds.levels is not None else "none",
           "alpha": 0.05}
    if d <= 16:
        return {**cfg, "hidden": 64, "layers": 3, "prior": "gaussian"}
    if d <= 256:
        return {**cfg, "hidden": 256, "layers": 3}
    if d <= 1024:
        return {**cfg, "hidden": 1000, "layers": 5}
    return {**cfg, "hidden": 2000, "layers": 4}


def build(ds: DatasetSpec, config: dict) -> FlowModel:
    cfg = {**default_config(ds), **(config or {})}
    shape, d = tuple(ds.shape), math.prod(ds.shape)
    if d < 2:
        raise ValueError("nice needs at least 2 dimensions")
    if cfg["preprocess"] not in ("logit", "none"):
        raise ValueError(f"nice: preprocess must be 'logit' or 'none', not {cfg['preprocess']!r}")
    layers = [LogitTransform(cfg["alpha"])] if cfg["preprocess"] == "logit" and ds.levels is not None else []
    layers.append(Flatten(shape))
    layers += [Coupling(checkerboard_mask((d,), i % 2), MLP(d, d, cfg["hidden"], cfg["layers"]), kind="additive")
               for i in range(cfg["couplings"])]
    layers.append(DiagonalScale((d,)))
    return FlowModel(Chain(layers), shape, cfg["prior"], clamp=ds.levels is not None, config=cfg, latent_shape=(d,))
