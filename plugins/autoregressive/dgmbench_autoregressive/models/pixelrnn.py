"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
Sec. 3): the same factorization and L-way softmax per sub-pixel as PixelCNN,

    P(x) = prod_{i,j} P(R_ij | x_<ij) P(G_ij | x_<ij, R_ij) P(B_ij | x_<ij, R_ij, G_ij),

computed by two-dimensional LSTM layers instead of convolutions (``layers.RowLSTM``,
``layers.DiagonalBiLSTM``):

* a 7 x 7 convolution with mask A (2h features);
* ``layers`` LSTM layers of h states, each with a residual connection (1 x 1 mask B back to 2h);
* ReLU - 1 x 1 mask B - ReLU - 1 x 1 mask B to C*L logits (``layers.masked_head``).

Row LSTM (``row-lstm``): row by row, k = 3 convolutions along the row; a triangular receptive
field. Diagonal BiLSTM (``diagonal-bilstm``): two diagonal LSTMs over the skewed map; its
receptive field is every earlier pixel (the tests check both).

Configurations (``size``): ``paper`` - CIFAR-10 (3 channels): 12 layers of h = 128 (Row LSTM
3.07, Diagonal BiLSTM 3.00 bits/dim); MNIST (1 channel): 7 layers of h = 16 (the Diagonal
BiLSTM's 79.20 nats; the Row LSTM gets the same shape); the 1 x 1 head widths are ours.
``auto`` (default) is ``paper`` for images of more than 16 x 16 pixels and ``tiny`` for 8 x 8
digits; ``cpu`` is the reduced configuration the CPU tables name (``--config size=cpu``). The
optimizer and schedule come from the budget."""
from __future__ import annotations

from torch import nn

from ..base import SoftmaxModel, check_dataset
from ..layers import DiagonalBiLSTM, MaskedConv2d, ResidualLSTM, RowLSTM, masked_head

PAPER = {  # (layers, h, 1x1 head width) by data channels
    1: dict(layers=7, hidden=16, first_kernel=7, out_hidden=32),
    3: dict(layers=12, hidden=128, first_kernel=7, out_hidden=1024),
}
PRESETS = {
    "tiny": dict(layers=2, hidden=16, first_kernel=5, out_hidden=64),
    "cpu": dict(layers=3, hidden=16, first_kernel=7, out_hidden=64),
}
LAYERS = {"row-lstm": RowLSTM, "diagonal-bilstm": DiagonalBiLSTM}


def pixelrnn_config(shape, config) -> dict:
    """The ``size`` preset (auto / paper / cpu / tiny) under explicit config keys."""
    C, H, W = shape
    size = config.get("size", "auto")
    if size == "auto":
        size = "tiny" if H * W <= 256 else "paper"
    if size == "paper":
        preset = PAPER[1 if C == 1 else 3]
    elif size in PRESETS:
        preset = PRESETS[size]
    else:
        raise ValueError(f"unknown size {size!r}; choose one of auto, paper, {', '.join(PRESETS)}")
    return {**preset, **{k: v for k, v in config.items() if v is not None}, "size": size}


class PixelRNN(SoftmaxModel):
    def __init__(self, shape, levels, config=None, kind: str = "diagonal-bilstm"):
        super().__init__(shape, levels, {**(config or {}), "kind": kind})
        cfg, C = self.config, self.shape[0]
        if kind not in LAYERS:
            raise ValueError(f"PixelRNN layer kind must be one of {', '.join(LAYERS)}, not {kind!r}")
        h = int(cfg["hidden"])
        self.net = nn.Sequential(
            MaskedConv2d(C, 2 * h, int(cfg["first_kernel"]), "A", C),
            *[ResidualLSTM(LAYERS[kind](2 * h, h, C), h, C) for _ in range(int(cfg["layers"]))],
            masked_head(2 * h, int(cfg["out_hidden"]), C, self.levels))

    @classmethod
    def build_row_lstm(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, pixelrnn_config(shape, config or {}), "row-lstm")

    @classmethod
    def build_diagonal_bilstm(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, pixelrnn_config(shape, config or {}), "diagonal-bilstm")

    def logits(self, x, **context):
        return self.net(2 * x - 1)
