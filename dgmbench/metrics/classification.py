"""Classification metrics for models with the ``classify`` capability."""
from __future__ import annotations

import torch

from ..errors import DgmbenchError


@torch.no_grad()
def topk_errors(logits: torch.Tensor, y: torch.Tensor, ks=(1, 5)) -> dict[int, int]:
    """Number of examples whose label is not among the k highest logits, for each k."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == y[:, None]
    return {k: int((~hit[:, :k].any(dim=1)).sum()) for k in ks}


@torch.no_grad()
def accuracy(ctx) -> dict:
    """Top-1 and top-5 test error in percent (top-5 only with at least 6 classes)."""
    model = ctx.model.eval()
    classes = ctx.dataset.num_classes or 0
    ks = (1, 5) if classes > 5 else (1,)
    wrong, n = {k: 0 for k in ks}, 0
    for x, y in ctx.test_batches(model_input=False):
        if y is None:
            raise DgmbenchError(f"dataset {ctx.dataset.name!r} has no labels to score accuracy against")
        for k, v in topk_errors(model.classify(x).float(), y.to(x.device), ks).items():
            wrong[k] += v
        n += len(x)
    out = {"top1_error": 100.0 * wrong[1] / n, "accuracy_examples": float(n)}
    if 5 in wrong:
        out["top5_error"] = 100.0 * wrong[5] / n
    return out
