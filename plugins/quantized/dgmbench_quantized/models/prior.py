"""Gated PixelCNN priors over maps of discrete codes (VQ-VAE-2's stage 2, Razavi et al. 2019, Alg. 2),
built from the autoregressive plugin's ``GatedBlock`` layers (van den Oord et al. 2016b):

    p(c) = prod_{i,j} p(c_ij | c_<(i,j))                              (top codes)
    p(c_b | c_t) = prod_{i,j} p(c_b,ij | c_b,<(i,j), c_t)             (bottom codes given the top)

Codes enter as learned embeddings (one "data channel" in the blocks' raster-order masks); the
head gives K logits per position. The conditional prior adds, in every block, a learned
1x1-convolution of the top codes' embedding (nearest-upsampled to the bottom grid) to both
stacks' pre-activations - the spatial form of the paper's conditioning biases c_v, c_h (Eq. 4).
The paper's priors are larger (PixelSNAIL-style attention in the top prior); these are plain
gated PixelCNNs, sized for the CPU budget.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from dgmbench_autoregressive.layers import GatedBlock, down_shift, gate, masked_head
from torch import nn


class ConditionalGatedBlock(GatedBlock):
    """A :class:`GatedBlock` whose conditioning is a feature map (B, 4h, H, W) instead of a class."""

    def __init__(self, in_channels, hidden, kernel, first=False, cond_channels=0):
        super().__init__(in_channels, hidden, kernel, 1, first=first)
        self.cond_map = nn.Conv2d(cond_channels, 4 * hidden, 1) if cond_channels else None

    def forward(self, v, h, cond=None):
        k = self.kernel
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))
        h_pre = self.h_conv(h) + self.v_to_h(down_shift(v_pre))
        if self.cond_map is not None and cond is not None:
            c_v, c_h = self.cond_map(cond).chunk(2, dim=1)
            v_pre, h_pre = v_pre + c_v, h_pre + c_h
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), h_new if self.first else h + h_new


class CodePrior(nn.Module):
    """An autoregressive prior over a (H, W) map of codes in {0..K-1}, optionally conditioned on
    another code map (``cond_codes`` of ``cond_num`` codes, upsampled to this map's size)."""

    def __init__(self, num_codes: int, shape: tuple[int, int], hidden: int = 32, layers: int = 5,
                 first_kernel: int = 5, kernel: int = 3, out_hidden: int = 64, cond_num: int = 0):
        super().__init__()
        self.num_codes, self.shape = int(num_codes), tuple(shape)
        self.embed = nn.Embedding(self.num_codes, hidden)
        self.cond_embed = nn.Embedding(cond_num, hidden) if cond_num else None
        cond = hidden if cond_num else 0
        self.blocks = nn.ModuleList(
            [ConditionalGatedBlock(hidden, hidden, first_kernel, first=True, cond_channels=cond)]
            + [ConditionalGatedBlock(hidden, hidden, kernel, cond_channels=cond) for _ in range(layers - 1)])
        self.head = masked_head(hidden, out_hidden, 1, self.num_codes)

    def condition(self, cond_codes: torch.Tensor | None) -> torch.Tensor | None:
        if self.cond_embed is None or cond_codes is None:
            return None
        c = self.cond_embed(cond_codes).movedim(-1, 1)
        return F.interpolate(c, size=self.shape, mode="nearest")

    def logits_embedded(self, e: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """(B, K, H, W) logits from embedded codes e (B, hidden, H, W); position (i, j) sees only
        the embeddings before it in raster order (the tests check this with autograd)."""
        v = h = e
        for block in self.blocks:
            v, h = block(v, h, cond)
        return self.head(h)

    def logits(self, codes: torch.Tensor, cond_codes: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits_embedded(self.embed(codes).movedim(-1, 1), self.condition(cond_codes))

    def log_prob(self, codes: torch.Tensor, cond_codes: torch.Tensor | None = None) -> torch.Tensor:
        """log p(codes [| cond_codes]) per example, in nats, shape (B,)."""
        logp = self.logits(codes, cond_codes).float().log_softmax(1)
        return logp.gather(1, codes[:, None]).flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, cond_codes: torch.Tensor | None = None) -> torch.Tensor:
        """n code maps (n, H, W), drawn position by position in raster order."""
        H, W = self.shape
        device = self.embed.weight.device
        codes = torch.zeros(n, H, W, dtype=torch.long, device=device)
        cond = self.condition(cond_codes)
        for i in range(H):  # row i depends on rows <= i only: the rows below are not computed
            rows = cond[:, :, :i + 1] if cond is not None else None
            for j in range(W):
                logits = self.logits_embedded(self.embed(codes[:, :i + 1]).movedim(-1, 1), rows)[:, :, i, j]
                codes[:, i, j] = torch.distributions.Categorical(logits=logits.float()).sample()
        return codes
