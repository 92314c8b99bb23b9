"""How exactly an invertible network (capability ``invert``) reconstructs its input."""
from __future__ import annotations

import torch


@torch.no_grad()
def reconstruction_error(ctx) -> dict:
    """max |x - invert(features(x))| over the test set (and the mean), in the data's [0, 1] units, and
    the max in the data's quantization steps (``reconstruction_error_levels``)."""
    model = ctx.model.eval()
    worst, total, count = 0.0, 0.0, 0
    for x, _ in ctx.test_batches(model_input=False):
        err = (model.invert(model.features(x)) - x).abs()
        worst = max(worst, float(err.max()))
        total += float(err.double().sum())
        count += err.numel()
    out = {"reconstruction_error": worst, "reconstruction_error_mean": total / max(count, 1)}
    if ctx.dataset.levels:  # in grey levels: below 0.5 the 8-bit input is recovered exactly
        out["reconstruction_error_levels"] = worst * (ctx.dataset.levels - 1)
    return out
