"""The discretized logistic mixture likelihood of PixelCNN++ (Salimans et al. 2017, Sec. 2.1-2.2).

On the [-1, 1] scale the L levels sit at x_k = 2k/(L-1) - 1, bins of width 2/(L-1). A pixel's
channels share one mixture component k ~ pi; given k, channel c is logistic with scale s_ck and a
mean that depends linearly on the (already known) earlier channels of the same pixel (Eq. 3)::

    mu~_ck = mu_ck + sum_{c' < c} alpha_{c c' k} x_c'         (G | R; B | R, G for RGB)
    P(x_c | k) = sigma((x_c + 1/(L-1) - mu~)/s) - sigma((x_c - 1/(L-1) - mu~)/s)   (interior)
    P(x_c = -1 | k) = sigma((-1 + 1/(L-1) - mu~)/s)                              (lowest level)
    P(x_c = +1 | k) = 1 - sigma((1 - 1/(L-1) - mu~)/s)                            (highest level)
    P(pixel) = sum_k pi_k prod_c P(x_c | k)

The edge cases put the logistic's tails into the first and last bins, so each P(. | k) sums to
one over the L levels exactly (the bins telescope), for any L (256 for 8-bit data, 17 for
digits, 2 for binary data). Everything is in log space: log(sigma(a) - sigma(b)) is evaluated
on the side where both sigmoids are small (a stable log1mexp) instead of the paper's switch to
the density at the bin centre when the difference falls below 1e-5, so normalization holds to
rounding error; the mixture is a logsumexp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .layers import full_precision

LOG_SCALE_MIN = -7.0  # the paper's lower bound on log s


def num_params(channels: int, mixtures: int) -> int:
    """Per-pixel outputs: K logits, C*K means, C*K log-scales, C(C-1)/2 * K coefficients
    (10 K for RGB, 3 K for grey)."""
    return mixtures * (1 + 2 * channels + channels * (channels - 1) // 2)


def coeff_index(c: int, earlier: int) -> int:
    """Index of alpha_{c, earlier} (earlier < c) among the C(C-1)/2 coefficients: (1,0), (2,0), (2,1), ..."""
    return c * (c - 1) // 2 + earlier


@dataclass
class MixtureParams:
    """logits (B, H, W, K); means, log_scales (B, C, H, W, K); coeffs (B, C(C-1)/2, H, W, K)."""

    logits: torch.Tensor
    means: torch.Tensor
    log_scales: torch.Tensor
    coeffs: torch.Tensor

    @classmethod
    def from_output(cls, out: torch.Tensor, channels: int, mixtures: int) -> "MixtureParams":
        """Split a network output (B, num_params, H, W)."""
        B, P, H, W = out.shape
        C, K = channels, mixtures
        if P != num_params(C, K):
            raise ValueError(f"expected {num_params(C, K)} output channels for C={C}, K={K}, got {P}")
        out = out.permute(0, 2, 3, 1)
        rest = out[..., K:].reshape(B, H, W, -1, K).permute(0, 3, 1, 2, 4)
        return cls(logits=out[..., :K], means=rest[:, :C],
                   log_scales=rest[:, C:2 * C].clamp(min=LOG_SCALE_MIN), coeffs=torch.tanh(rest[:, 2 * C:]))

    def at(self, i: int, j: int) -> "MixtureParams":
        """The parameters of pixel (i, j): logits (B, K), the others (B, C or C(C-1)/2, K)."""
        return MixtureParams(self.logits[:, i, j], self.means[:, :, i, j], self.log_scales[:, :, i, j],
                             self.coeffs[:, :, i, j])


def conditioned_means(x: torch.Tensor, p: MixtureParams) -> torch.Tensor:
    """mu~_ck = mu_ck + sum_{c'<c} alpha_{cc'k} x_c' for x of shape (B, C, ...), means (B, C, ..., K)."""
    C = x.shape[1]
    means = [p.means[:, 0]]
    for c in range(1, C):
        m = p.means[:, c]
        for e in range(c):
            m = m + p.coeffs[:, coeff_index(c, e)] * x[:, e, ..., None]
        means.append(m)
    return torch.stack(means, dim=1)


def log1mexp(z: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(z)) for z < 0, accurate everywhere (Maechler 2012)."""
    z = z.clamp(max=-1e-30)  # z = 0 only from underflow; keeps both where() branches finite
    return torch.where(z > -math.log(2), torch.log(-torch.expm1(z)), torch.log1p(-torch.exp(z)))


def log_sigmoid_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(sigma(a) - sigma(b)) for a > b. sigma(a) - sigma(b) = sigma(-b) - sigma(-a); use the
    form whose sigmoids are both below 1/2, then log sigma(a') + log(1 - exp(log sigma(b') - log sigma(a')))."""
    flip = (a + b) > 0
    a2, b2 = torch.where(flip, -b, a), torch.where(flip, -a, b)
    la, lb = F.logsigmoid(a2), F.logsigmoid(b2)
    return la + log1mexp(lb - la)


def log_bin_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, levels: int) -> torch.Tensor:
    """log P(x | mean, scale) of the discretized logistic at levels x in [-1, 1] (bins of width
    2/(L-1)), the lowest and highest bins taking the tails."""
    half = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    centered = x - mean
    plus, minus = inv_s * (centered + half), inv_s * (centered - half)
    lowest = F.logsigmoid(plus)          # log sigma(plus)      = log CDF(x + half)
    highest = F.logsigmoid(-minus)       # log(1 - sigma(minus)) = log(1 - CDF(x - half))
    interior = log_sigmoid_diff(plus, minus)
    return torch.where(x < -1 + half, lowest, torch.where(x > 1 - half, highest, interior))


def component_log_probs(x: torch.Tensor, p: MixtureParams, levels: int) -> torch.Tensor:
    """log P(x_c | x_<c, k) for x (B, C, H, W) on [-1, 1]: shape (B, C, H, W, K)."""
    return log_bin_prob(x[..., None], conditioned_means(x, p), p.log_scales, levels)


def log_prob_pixels(x: torch.Tensor, p: MixtureParams, levels: int) -> torch.Tensor:
    """log P(pixel) = logsumexp_k [log pi_k + sum_c log P(x_c | x_<c, k)], shape (B, H, W)."""
    return torch.logsumexp(F.log_softmax(p.logits, -1) + component_log_probs(x, p, levels).sum(1), dim=-1)


def conditional_log_weights(x: torch.Tensor, p: MixtureParams, levels: int) -> torch.Tensor:
    """Mixture weights of sub-pixel c's conditional P(x_c | x_<c) = sum_k w_ck P(x_c | x_<c, k):
    log w_ck = log softmax_k [log pi_k + sum_{c'<c} log P(x_c' | x_<c', k)], shape (B, C, H, W, K)."""
    comp = component_log_probs(x, p, levels)
    before = torch.cumsum(comp, dim=1) - comp  # sum over c' < c
    return F.log_softmax(F.log_softmax(p.logits, -1)[:, None] + before, dim=-1)


def sample_pixel(p: MixtureParams, levels: int) -> torch.Tensor:
    """Exact draw of one pixel from parameters ``p.at(i, j)``: k ~ pi, then channel by channel
    x_c = round-to-level(mu~_ck + s_ck (log u - log(1 - u))), u ~ U(0, 1), clamped to [-1, 1].
    Rounding a logistic draw to the nearest level is exactly the discretized distribution above
    (edge bins take the tails), and later channels condition on the rounded earlier ones.
    Returns (B, C) on the [-1, 1] level grid."""
    B, C, K = p.means.shape
    k = torch.distributions.Categorical(logits=full_precision(p.logits)).sample()
    pick = lambda t: full_precision(t).gather(-1, k.view(B, 1, 1).expand(B, t.shape[1], 1)).squeeze(-1)
    means, log_scales, coeffs = pick(p.means), pick(p.log_scales), pick(p.coeffs)
    x = torch.zeros(B, C, device=means.device, dtype=means.dtype)
    for c in range(C):
        m = means[:, c] + sum(coeffs[:, coeff_index(c, e)] * x[:, e] for e in range(c))
        u = torch.rand(B, device=means.device, dtype=means.dtype).clamp(min=torch.finfo(means.dtype).tiny)
        v = m + torch.exp(log_scales[:, c]) * (torch.log(u) - torch.log1p(-u))
        level = torch.round((v.clamp(-1, 1) + 1) / 2 * (levels - 1))
        x[:, c] = 2 * level / (levels - 1) - 1
    return x
