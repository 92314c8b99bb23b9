"""The DDPM noise-prediction network eps_theta(x_t, t) (Ho et al. 2020, Appendix B): a U-Net of
Wide-ResNet blocks (PixelCNN++'s backbone) with group normalization, the time step's sinusoidal
embedding added in every block, self-attention at the 16 x 16 resolution, dropout.
CIFAR-10: 128 channels, multipliers (1, 2, 2, 2) over the resolutions 32, 16, 8, 4, two residual
blocks per resolution, dropout 0.1 (35.7M parameters).

Hand-written rather than taken from ``diffusers``: the suite's plugins depend on torch only, and
the network is short."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .process import timestep_embedding


def norm(channels: int) -> nn.GroupNorm:
    """Group normalization with the paper's 32 groups (fewer where the channels do not divide)."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2, self.dropout, self.conv2 = norm(cout), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x))) + self.temb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all positions, with a residual connection."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = norm(channels)
        self.qkv, self.proj = nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)

    def forward(self, x, emb=None):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return x + self.proj(h.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    def __init__(self, in_channels: int, resolution: int, channels: int = 128, mult=(1, 2, 2, 2),
                 res_blocks: int = 2, attn_resolutions=(16,), dropout: float = 0.1, out_channels: int | None = None):
        super().__init__()
        self.channels, temb = channels, 4 * channels
        self.temb = nn.Sequential(nn.Linear(channels, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.down, skips, ch, res = nn.ModuleList(), [channels], channels, resolution
        for level, m in enumerate(mult):
            for _ in range(res_blocks):
                block = nn.ModuleList([ResBlock(ch, channels * m, temb, dropout)])
                ch = channels * m
                if res in attn_resolutions:
                    block.append(AttnBlock(ch))
                self.down.append(block)
                skips.append(ch)
            if level < len(mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
                res //= 2
        self.mid = nn.ModuleList([ResBlock(ch, ch, temb, dropout), AttnBlock(ch), ResBlock(ch, ch, temb, dropout)])
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(mult))):
            for _ in range(res_blocks + 1):
                block = nn.ModuleList([ResBlock(ch + skips.pop(), channels * m, temb, dropout)])
                ch = channels * m
                if res in attn_resolutions:
                    block.append(AttnBlock(ch))
                self.up.append(block)
            if level > 0:
                self.up.append(nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"),
                                              nn.Conv2d(ch, ch, 3, padding=1)]))
                res *= 2
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out_channels or in_channels, 3, padding=1))

    def forward(self, x, t):
        emb = self.temb(timestep_embedding(t, self.channels).to(x.dtype))
        h = self.conv_in(x)
        hs = [h]
        for block in self.down:
            if isinstance(block[0], ResBlock):
                h = block[0](h, emb)
                for layer in block[1:]:
                    h = layer(h)
            else:
                h = block[0](h)
            hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for block in self.up:
            if isinstance(block[0], ResBlock):
                h = block[0](torch.cat([h, hs.pop()], dim=1), emb)
                for layer in block[1:]:
                    h = layer(h)
            else:
                h = block[1](block[0](h))
        return self.out(h)
