"""PixelSNAIL (Chen, Mishra, Rohaninejad & Abbeel 2018, "PixelSNAIL: An Improved Autoregressive
Generative Model"): causal convolutions interleaved with causal self-attention, so that every
pixel can read every earlier pixel in one layer; PixelCNN++'s likelihood (a discretized logistic
mixture per whole pixel with linear RGB dependence, ``logistic.py``).

The network, as in the authors' released CIFAR-10 model (``h12_noup_smallkey``)::

    u = down_shift(conv_1x3(x)) + right_shift(conv_2x1(x))         x with an all-ones channel
    repeat ``blocks`` (12) times:
        u = GatedResnet(u, 2x2 down-right-shifted conv)  x ``resnets`` (4)
        k, v = split(nin(GatedResnet_nin([x, u, pos])), key 16, value nf/2)
        q = nin(GatedResnet_nin([u, pos]), 16)
        u = GatedResnet_nin(u, a = attention(q, k, v))             (the block's output)
    out = nin(elu(u)) -> mixture parameters

``pos`` are two channels of row and column coordinates (the code's "background"). Attention
(single head) at position p reads only positions q < p in raster order - strictly before,
because keys and values see the raw pixels x_q; the first pixel reads nothing (zeros).
Everything is weight-normalized; dropout 0.5 in the gated resnets (the released CIFAR run).

Configurations (``size``): ``paper`` (nf = 256 filters, 12 blocks of 4 resnets, 10 mixtures,
key 16, value 128, dropout 0.5), ``cpu`` (reduced, for CPU budgets: ``--config size=cpu``),
``tiny``; ``auto`` (default) is ``paper`` above 16 x 16 pixels and ``tiny`` on 8 x 8 digits. The
paper trains with Adam and Polyak averaging; here the budget's optimizer is used, no averaging."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..base import MixtureModel, check_dataset, preset_config
from ..layers import DownRightShiftedConv2d, DownShiftedConv2d, GatedResnet, Nin, down_shift, right_shift

PRESETS = {  # nf, resnets per block, attention blocks, key size, mixtures, dropout
    "tiny": dict(filters=16, resnets=1, blocks=2, key=8, mixtures=3, dropout=0.0),
    "cpu": dict(filters=32, resnets=1, blocks=3, key=8, mixtures=5, dropout=0.1),
    "paper": dict(filters=256, resnets=4, blocks=12, key=16, mixtures=10, dropout=0.5),
}


def pixelsnail_config(shape, config) -> dict:
    C, H, W = shape
    if config.get("size", "auto") == "auto":
        config = {**config, "size": "tiny" if H * W <= 256 else "paper"}
    return preset_config(PRESETS, shape, config)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Single-head attention over positions in raster order, position p reading q < p only.
    q, k: (B, dk, H, W); v: (B, dv, H, W) -> (B, dv, H, W); the first position gets zeros."""
    B, dk, H, W = q.shape
    n = H * W
    logits = torch.einsum("bdp,bdq->bpq", q.flatten(2), k.flatten(2)) / dk ** 0.5
    allowed = torch.ones(n, n, dtype=torch.bool, device=q.device).tril(-1)
    logits = logits.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # the first row has no allowed key
    return torch.einsum("bpq,bdq->bdp", weights, v.flatten(2)).view(B, -1, H, W)


class AttentionBlock(nn.Module):
    """The block's attention and its closing gated resnet (see the module docstring)."""

    def __init__(self, data_channels: int, nf: int, key: int, dropout: float):
        super().__init__()
        content = data_channels + nf + 2
        self.kv_resnet = GatedResnet(content, Nin, dropout=dropout)
        self.kv = Nin(content, key + nf // 2)
        self.q_resnet = GatedResnet(nf + 2, Nin, dropout=dropout)
        self.q = Nin(nf + 2, key)
        self.out = GatedResnet(nf, Nin, dropout=dropout, skip_channels=nf // 2)
        self.key = key

    def forward(self, x, u, pos):
        kv = self.kv(self.kv_resnet(torch.cat([x, u, pos], dim=1)))
        k, v = kv[:, :self.key], kv[:, self.key:]
        q = self.q(self.q_resnet(torch.cat([u, pos], dim=1)))
        return self.out(u, a=causal_attention(q, k, v))


class PixelSNAIL(MixtureModel):
    def __init__(self, shape, levels, config=None):
        cfg = dict(config or {})
        super().__init__(shape, levels, cfg, int(cfg["mixtures"]))
        C, H, W = self.shape
        nf, d = int(cfg["filters"]), float(cfg["dropout"])
        self.init_down = DownShiftedConv2d(C + 1, nf, (1, 3))
        self.init_right = DownRightShiftedConv2d(C + 1, nf, (2, 1))
        self.resnets = nn.ModuleList([
            nn.ModuleList([GatedResnet(nf, DownRightShiftedConv2d, dropout=d) for _ in range(int(cfg["resnets"]))])
            for _ in range(int(cfg["blocks"]))])
        self.attention = nn.ModuleList([AttentionBlock(C, nf, int(cfg["key"]), d) for _ in range(int(cfg["blocks"]))])
        self.out = Nin(nf, self.params_per_pixel())

    def params_per_pixel(self) -> int:
        from .. import logistic

        return logistic.num_params(self.shape[0], self.mixtures)

    @classmethod
    def build(cls, dataset, config):
        shape, levels = check_dataset(dataset)
        return cls(shape, levels, pixelsnail_config(shape, config or {}))

    def network_output(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_params, H, W) for x in [0, 1]; output (i, j) sees pixels before (i, j) only."""
        B, C, H, W = x.shape
        xs = 2 * x - 1
        xp = torch.cat([xs, torch.ones_like(xs[:, :1])], dim=1)
        rows = (torch.arange(H, dtype=x.dtype, device=x.device) - self.shape[1] / 2) / self.shape[1]
        cols = (torch.arange(W, dtype=x.dtype, device=x.device) - W / 2) / W
        pos = torch.stack([rows[:, None].expand(H, W), cols[None, :].expand(H, W)])[None].expand(B, 2, H, W)
        u = down_shift(self.init_down(xp)) + right_shift(self.init_right(xp))
        for resnets, attention in zip(self.resnets, self.attention):
            for block in resnets:
                u = block(u)
            u = attention(xs, u, pos)
        return self.out(F.elu(u))
