"""Latent traversals, as in the seeds' beta-VAE figures: the top row some inputs, the second their
reconstructions, then one row per latent dimension, ordered by its mean KL(q(z_j | x) || N(0, 1))
over the inputs (largest first), each decoding the first input's code with that one dimension
swept over [-span, span]. Works for any model with ``encode`` and a ``decode(z)`` method; without
a ``posterior(x)`` (a diagonal Gaussian) the rows are ordered by the variance of the mean code.

Labels: left of each row its content ("input", "recon.", or the latent's index and its mean KL /
variance), above each column the value the swept latent takes there."""
from __future__ import annotations

from pathlib import Path

import torch


@torch.no_grad()
def kl_order(model, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(dimensions sorted by mean KL to N(0, 1), largest first, their scores, "KL"); without a
    posterior the variance of the mean code takes the KL's place ("var")."""
    if hasattr(model, "posterior"):
        q = model.posterior(x)
        base = getattr(q, "base_dist", q)
        mu, sigma = base.loc, base.scale
        score = (0.5 * (mu.pow(2) + sigma.pow(2) - 1) - sigma.log()).mean(0)
        kind = "KL"
    else:
        score, kind = z.var(0), "var"
    order = torch.argsort(score, descending=True)
    return order, score[order], kind


def row_labels(order: torch.Tensor, scores: torch.Tensor, kind: str) -> list[str]:
    """The text left of each row: the inputs, their reconstructions, then "z<j> <kind> <score>"."""
    return ["input", "recon.", *(f"z{j} {kind} {s:.2f}" for j, s in zip(order.tolist(), scores.tolist()))]


def labelled(pixels, rows: list[str], columns: list[str], cell: tuple[int, int]):
    """The grid ``pixels`` (H, W[, 3] uint8, padding 1) with a left margin naming each row and a top
    strip naming each column (PIL's built-in bitmap font)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    grid = Image.fromarray(pixels)
    h, w = cell
    measure = ImageDraw.Draw(grid)
    left = max(measure.textlength(t, font=font) for t in rows) + 6
    top = 14
    canvas = Image.new(grid.mode, (int(left) + grid.width, top + grid.height), "white")
    canvas.paste(grid, (int(left), top))
    draw = ImageDraw.Draw(canvas)
    ink = 0 if grid.mode == "L" else (0, 0, 0)
    for r, text in enumerate(rows):
        draw.text((3, top + 1 + r * (h + 1) + max(h // 2 - 5, 0)), text, fill=ink, font=font)
    for c, text in enumerate(columns):
        draw.text((int(left) + 1 + c * (w + 1), 2), text, fill=ink, font=font)
    return canvas


@torch.no_grad()
def save_traversals(model, x: torch.Tensor, path: Path, steps: int = 10, span: float = 2.5) -> Path | None:
    """Write the traversal grid (``steps`` columns) to ``path``; None if the model cannot decode."""
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
    order, scores, kind = kl_order(model, x, z)
    values = torch.linspace(-span, span, steps, device=device)
    codes = z[:1].repeat(len(order) * steps, 1)
    for row, j in enumerate(order.tolist()):
        codes[row * steps:(row + 1) * steps, j] = values
    images = [x, model.decode(z), model.decode(codes)]
    grid = torch.cat([im.float().cpu().reshape(-1, *x.shape[1:]) for im in images]).clamp(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = make_grid(grid, nrow=steps, padding=1, pad_value=0.5).mul(255).round().byte().permute(1, 2, 0).numpy()
    columns = [f"{v:+.1f}" for v in values.tolist()]
    image = labelled(pixels[..., 0] if x.shape[1] == 1 else pixels,  # grey: 1 channel
                     row_labels(order, scores, kind), columns, tuple(x.shape[2:]))
    image.save(path, optimize=True)
    model.train(was_training)
    return path
