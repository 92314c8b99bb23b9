"""The vector quantizer VQ-VAE, VQ-VAE-2 and FQ-GAN share (van den Oord et al. 2017, "Neural Discrete
Representation Learning"; Razavi et al. 2019; Zhao et al. 2020, "Feature Quantization Improves GAN
Training").

A codebook e_1..e_K in R^d. Each input vector z (the channel axis of a (B, d, H, W) map, or the
rows of a (N, d) matrix) is replaced by its nearest code

    k(z) = argmin_i ||z - e_i||^2,      z_q = e_{k(z)},

passed on with the straight-through estimator z + sg(z_q - z) (value z_q, gradient of the identity),
plus the commitment loss beta ||z - sg(z_q)||^2 (beta = 0.25 in both papers).

Codebook updates by exponential moving averages (van den Oord et al. 2017, App. A.1; the FQ-GAN
dictionary too), with decay gamma (0.99 in VQ-VAE/VQ-VAE-2, 0.8 in FQ-GAN's code):

    n_i = #{j: k(z_j) = i},   N_i <- gamma N_i + (1 - gamma) n_i,
    m_i <- gamma m_i + (1 - gamma) sum_{j: k(z_j) = i} z_j,   e_i = m_i / N~_i,
    N~_i = (N_i + eps) / (sum N + K eps) * sum N   (Laplace smoothing, as in Sonnet's VectorQuantizerEMA).

The output and the commitment term use the codebook as it was before the call's EMA update (the
update follows the lookup), as in Sonnet's ``VectorQuantizerEMA`` (google-deepmind/sonnet,
``sonnet/src/nets/vqvae.py`` at 26b0518d42088d3cdccec7421a8aa6fbafbe4775: ``quantized`` is looked up
before ``self.embeddings.assign``) and FQ-GAN's ``Quantize`` (YangNaruto/FQ-GAN,
``FQ-BigGAN/vq_layer.py`` at bc43d45700b2a84234932bc6d6616b0248d1304e).

With ``ema=False`` the codebook is a parameter trained by the codebook loss ||sg(z) - e||^2 instead.

Dead codes: a code whose EMA count N_i falls below ``restart_below`` is restarted at a random input
vector of the current batch (as in Dhariwal et al. 2020, Jukebox), so the codebook stays in use.

Usage: the perplexity exp(-sum_i p_i log p_i) of the batch's code frequencies p (K when all codes are
used equally, 1 when one code takes everything) comes with every output; every ``log_every`` training
calls the quantizer also appends (call, perplexity of the EMA counts, dead codes) to ``usage_log``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Quantized:
    quantized: torch.Tensor   # straight-through z_q, the input's shape
    codes: torch.Tensor       # code indices, the input's shape without the channel axis
    loss: torch.Tensor        # commitment (+ codebook loss without EMA), a scalar
    perplexity: torch.Tensor  # exp(entropy of the batch's code frequencies), a scalar


def perplexity(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """exp(-sum_i p_i log p_i) of the code frequencies p_i (0 log 0 = 0)."""
    p = torch.bincount(codes.flatten(), minlength=num_codes).float()
    p = p / p.sum().clamp_min(1)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes: int, dim: int, decay: float = 0.99, commitment: float = 0.25,
                 ema: bool = True, eps: float = 1e-5, restart_below: float = 0.0, log_every: int = 100):
        super().__init__()
        self.num_codes, self.dim = int(num_codes), int(dim)
        self.decay, self.commitment, self.ema, self.eps = float(decay), float(commitment), bool(ema), float(eps)
        self.restart_below, self.log_every = float(restart_below), int(log_every)
        embed = torch.randn(self.num_codes, self.dim)
        if self.ema:
            self.register_buffer("embed", embed)
            self.register_buffer("cluster_size", torch.ones(self.num_codes))
            self.register_buffer("embed_sum", embed.clone())
        else:
            self.embed = nn.Parameter(embed)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))  # codes restarted so far
        self.usage_log: list[tuple[int, float, int]] = []

    # -- the lookup -------------------------------------------------------------------------------
    def _flat(self, z: torch.Tensor) -> torch.Tensor:
        return z.movedim(1, -1).reshape(-1, self.dim) if z.ndim > 2 else z

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """argmin_i ||z - e_i||^2 for each row z of ``flat`` (N, d)."""
        e = self.embed.to(flat.dtype)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
        return dist.argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors for indices of shape (B, H, W) -> (B, d, H, W), or (N,) -> (N, d)."""
        q = F.embedding(codes, self.embed)
        return q.movedim(-1, 1) if codes.ndim > 1 else q

    def forward(self, z: torch.Tensor) -> Quantized:
        flat = self._flat(z.float())
        codes = self.nearest(flat.detach())
        q_flat = F.embedding(codes, self.embed)  # a copy: the codebook before this call's EMA update
        if self.training and self.ema:
            self.ema_update(flat.detach(), codes)
        q = q_flat.view(*z.shape[:1], *z.shape[2:], self.dim).movedim(-1, 1) if z.ndim > 2 else q_flat
        q = q.to(z.dtype)
        loss = self.commitment * F.mse_loss(z, q.detach())
        if not self.ema:
            loss = loss + F.mse_loss(q, z.detach())
        shape = (z.shape[0], *z.shape[2:]) if z.ndim > 2 else z.shape[:1]
        codes = codes.view(shape)
        ppl = perplexity(codes, self.num_codes)
        if self.training:
            self.calls += 1
            if self.log_every and int(self.calls) % self.log_every == 0:
                self.usage_log.append((int(self.calls), float(self.usage_perplexity()), int(self.restarts)))
        return Quantized(z + (q - z).detach(), codes, loss, ppl)

    # -- the EMA codebook -------------------------------------------------------------------------
    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step (module docstring), then the dead-code restarts."""
        onehot = F.one_hot(codes, self.num_codes).to(flat.dtype)
        g = self.decay
        self.cluster_size.mul_(g).add_(onehot.sum(0), alpha=1 - g)
        self.embed_sum.mul_(g).add_(onehot.t() @ flat, alpha=1 - g)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
        self.embed.copy_(self.embed_sum / smoothed[:, None])
        if self.restart_below > 0:
            dead = self.cluster_size < self.restart_below
            if dead.any():
                picks = flat[torch.randint(len(flat), (int(dead.sum()),), device=flat.device)]
                self.embed[dead] = picks
                self.embed_sum[dead] = picks * self.restart_below
                self.cluster_size[dead] = self.restart_below
                self.restarts += int(dead.sum())

    def usage_perplexity(self) -> torch.Tensor:
        """Perplexity of the EMA code counts N_i (the codebook's recent usage); without EMA, NaN."""
        if not self.ema:
            return torch.tensor(float("nan"))
        p = self.cluster_size / self.cluster_size.sum()
        return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
