"""Latent traversals, as in the seeds' beta-VAE figures: the top row some inputs, the second their
reconstructions, then one row per latent dimension, ordered by its mean KL(q(z_j | x) || N(0, 1))
over the inputs (largest first), each decoding the first input's code with that one dimension
swept over [-span, span]. Works for any model with ``encode`` and a ``decode(z)`` method; without
a ``posterior(x)`` (a diagonal Gaussian) the rows are ordered by the variance of the mean code."""
from __future__ import annotations

from pathlib import Path

import torch


@torch.no_grad()
def kl_order(model, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Dimensions sorted by mean KL to N(0, 1), largest first (else by variance of the mean code)."""
    if hasattr(model, "posterior"):
        q = model.posterior(x)
        base = getattr(q, "base_dist", q)
        mu, sigma = base.loc, base.scale
        score = (0.5 * (mu.pow(2) + sigma.pow(2) - 1) - sigma.log()).mean(0)
        return torch.argsort(score, descending=True), "mean KL"
    return torch.argsort(z.var(0), descending=True), "variance of the mean code"


@torch.no_grad()
def save_traversals(model, x: torch.Tensor, path: Path, steps: int = 10, span: float = 2.5) -> Path | None:
    """Write the traversal grid (``steps`` columns) to ``path``; None if the model cannot decode."""
    from PIL import Image
    from torchvision.utils import make_grid

    if not hasattr(model, "decode") or "encode" not in model.capabilities() or x.ndim != 4:
        return None
    was_training = model.training
    model.eval()
    device = next(iter(model.parameters()), torch.zeros(())).device
    x = x[:steps].to(device)
    layers = model.encode(x)
    if len(layers) != 1:  # decode(z) takes one layer's code
        return None
    z = layers[0].flatten(1)
    order, _ = kl_order(model, x, z)
    values = torch.linspace(-span, span, steps, device=device)
    codes = z[:1].repeat(len(order) * steps, 1)
    for row, j in enumerate(order.tolist()):
        codes[row * steps:(row + 1) * steps, j] = values
    images = [x, model.decode(z), model.decode(codes)]
    grid = torch.cat([im.float().cpu().reshape(-1, *x.shape[1:]) for im in images]).clamp(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = make_grid(grid, nrow=steps, padding=1, pad_value=0.5).mul(255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(pixels[..., 0] if x.shape[1] == 1 else pixels).save(path, optimize=True)  # grey: 1 channel
    model.train(was_training)
    return path
