"""Tiny models for the tests (float64, eval mode)."""
from __future__ import annotations

import torch

from dgmbench.specs import DatasetSpec

TINY = {
    "pixelcnn": dict(size="tiny", hidden=12, blocks=2, first_kernel=3, out_hidden=24),
    "gated-pixelcnn": dict(size="tiny", hidden=6, layers=3, first_kernel=3, out_hidden=12),
    "pixelcnnpp": dict(size="tiny", filters=6, resnets=1, mixtures=2),
    "row-lstm": dict(size="tiny", layers=2, hidden=12, first_kernel=3, out_hidden=24),
    "diagonal-bilstm": dict(size="tiny", layers=2, hidden=12, first_kernel=3, out_hidden=24),
    "pixelsnail": dict(size="tiny", filters=8, resnets=1, blocks=2, key=4, mixtures=2),
}
MIXTURE_MODELS = ("pixelcnnpp", "pixelsnail")  # discretized logistic mixtures; the rest are softmaxes
MODELS = tuple(TINY)


def dataset(shape, levels, num_classes=None) -> DatasetSpec:
    return DatasetSpec("tiny", "none:none", tuple(shape), levels=levels, num_classes=num_classes)


def build(name: str, shape, levels: int = 17, num_classes=None, **config):
    from dgmbench_autoregressive.models.gated_pixelcnn import GatedPixelCNN
    from dgmbench_autoregressive.models.pixelcnn import PixelCNN
    from dgmbench_autoregressive.models.pixelcnnpp import PixelCNNpp
    from dgmbench_autoregressive.models.pixelrnn import PixelRNN
    from dgmbench_autoregressive.models.pixelsnail import PixelSNAIL

    build = {"pixelcnn": PixelCNN.build, "gated-pixelcnn": GatedPixelCNN.build, "pixelcnnpp": PixelCNNpp.build,
             "row-lstm": PixelRNN.build_row_lstm, "diagonal-bilstm": PixelRNN.build_diagonal_bilstm,
             "pixelsnail": PixelSNAIL.build}[name]
    torch.manual_seed(0)
    model = build(dataset(shape, levels, num_classes), {**TINY[name], **config})
    return model.double().eval()


def raster_index(shape):
    """(C, H, W) tensor of each sub-pixel's position in the order rows, columns, R < G < B."""
    C, H, W = shape
    i, j, c = torch.meshgrid(torch.arange(H), torch.arange(W), torch.arange(C), indexing="ij")
    return ((i * W + j) * C + c).permute(2, 0, 1)


def dependence(model, x, c, i, j, sample=0):
    """|d out_(i,j,c) / d x| for one example: the gradient of a random projection of sub-pixel
    (i, j, c)'s conditional parameters with respect to every input sub-pixel, shape (B, C, H, W)."""
    x = x.clone().requires_grad_(True)
    out = model.conditionals(x)[sample, c, i, j]
    proj = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(c + 7 * i + 31 * j))
    (grad,) = torch.autograd.grad((out * proj).sum(), x)
    return grad.abs()
