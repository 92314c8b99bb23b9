"""How exactly an invertible network (capability ``invert``) reconstructs its input."""
from __future__ import annotations

import copy

import torch


@torch.no_grad()
def reconstruction_error(ctx) -> dict:
    """max |x - invert(features(x))| over the test set (and the mean), in the data's [0, 1] units, and
    the max in the data's quantization steps (``reconstruction_error_levels``); and the max of a float64
    copy of the model (``reconstruction_error_float64``), which tells float32's rounding, grown with
    depth and trained weights, from an inverse that is wrong."""
    model = ctx.model.eval()
    exact = copy.deepcopy(model).double()
    worst, worst64, total, count = 0.0, 0.0, 0.0, 0
    for x, _ in ctx.test_batches(model_input=False):
        err = (model.invert(model.features(x)) - x).abs()
        x64 = x.double()
        worst64 = max(worst64, float((exact.invert(exact.features(x64)) - x64).abs().max()))
        worst = max(worst, float(err.max()))
        total += float(err.double().sum())
        count += err.numel()
    out = {"reconstruction_error": worst, "reconstruction_error_mean": total / max(count, 1),
           "reconstruction_error_float64": worst64}
    if ctx.dataset.levels:  # in grey levels: below 0.5 the 8-bit input is recovered exactly
        out["reconstruction_error_levels"] = worst * (ctx.dataset.levels - 1)
    return out
