"""How exactly an invertible network (capability ``invert``) reconstructs its input."""
from __future__ import annotations

import torch


@torch.no_grad()
def reconstruction_error(ctx) -> dict:
    """max |x - invert(features(x))| over the test set (and the mean), in the data's [0, 1] units."""
    model = ctx.model.eval()
    worst, total, count = 0.0, 0.0, 0
    for x, _ in ctx.test_batches(model_input=False):
        err = (model.invert(model.features(x)) - x).abs()
        worst = max(worst, float(err.max()))
        total += float(err.double().sum())
        count += err.numel()
    return {"reconstruction_error": worst, "reconstruction_error_mean": total / max(count, 1)}
