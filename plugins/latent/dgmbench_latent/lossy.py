"""Metric ``lossy_code``: does a latent code keep global structure while local texture is
resampled? (The VLAE questions of the lecture notes; Chen et al. 2017, Sec. 5.1 and Fig. 1.)

For test images x, two reconstructions x'_1, x'_2 are drawn from the code, through the model's
``reconstruct(x)`` (z at the posterior mean, then x' ~ p(x | z): for a windowed PixelCNN decoder
each pixel is drawn anew given its window). The suite's ``domain`` classifier (a CNN trained on
the dataset's own labels, :mod:`dgmbench.features.domain`) reads the class of x and of x'_1:
    class_agreement   = P(class(x'_1) = class(x))
    shuffled_agreement = P(class(x'_1) = class(x_pi)) for a fixed permutation pi: the agreement a
                         code that kept nothing about the class would get (about 1 / classes)
    pixel_error       = mean |x'_1 - x| per pixel (fraction of flipped pixels on binary data)
    resample_error    = mean |x'_1 - x'_2| per pixel: how much of the image is drawn anew from one
                         and the same code (0 for a decoder that returns its mean)
and ``lossy_reconstructions.png`` (originals above two rows of reconstructions) is written to the
run folder. Options: ``lossy_n`` (test images, 1,000).
"""
from __future__ import annotations

import torch

from dgmbench.errors import UnsupportedMetric


def lossy_code(ctx) -> dict:
    from dgmbench.features import feature_net_for

    model = ctx.model
    if not callable(getattr(model, "reconstruct", None)):
        raise UnsupportedMetric(f"lossy_code needs the model method reconstruct(x); {type(model).__name__} lacks it")
    net = feature_net_for(ctx, "domain")  # trains the classifier on first use: outside no_grad
    with torch.no_grad():
        return _measure(ctx, model, net)


def _measure(ctx, model, net) -> dict:
    n_max = int(ctx.options.get("lossy_n", 1000))
    xs, r1s, r2s = [], [], []
    n = 0
    for x, _ in ctx.test_batches():
        x = x[: n_max - n]
        xs.append(x)
        r1s.append(model.reconstruct(x).float())
        r2s.append(model.reconstruct(x).float())
        n += len(x)
        if n >= n_max:
            break
    x, r1, r2 = torch.cat(xs).float(), torch.cat(r1s), torch.cat(r2s)
    cls_x = net(x)[1].argmax(-1)
    cls_r = net(r1)[1].argmax(-1)
    perm = torch.randperm(len(x), generator=ctx.generator(7)).to(cls_x.device)
    out = {"class_agreement": (cls_r == cls_x).double().mean().item(),
           "shuffled_agreement": (cls_r == cls_x[perm]).double().mean().item(),
           "pixel_error": (r1 - x).abs().mean().item(),
           "resample_error": (r1 - r2).abs().mean().item(),
           "domain_net_accuracy": float(net.meta.get("accuracy", float("nan")))}
    if ctx.out_dir is not None and x.dim() == 4:
        from torchvision.utils import save_image

        k = min(16, len(x))
        grid = torch.cat([x[:k], r1[:k], r2[:k]]).cpu().clamp(0, 1)
        save_image(grid, ctx.out_dir / "lossy_reconstructions.png", nrow=k, padding=1)
    return out
