"""VQ-VAE-2 (Razavi, van den Oord & Vinyals 2019, "Generating Diverse High-Fidelity Images with
VQ-VAE-2"), two levels.

Stage 1 (Alg. 1): h_b = E_b(x) at 1/2^d of the image size (d = 2 for images of 32 pixels or more,
as the paper's 256 -> 64; d = 1 for smaller ones), h_t = E_t(h_b) at half of that;
e_t = Quantize_t(h_t); e_b = Quantize_b([h_b, D_t(e_t)]); x_hat = D([up(e_t), e_b]). Loss (Eq. 2)

    ||x - x_hat||^2 + beta ||sg[e(x)] - e||^2 (both levels),  codebooks by EMA (decay 0.99).

Stage 2 (Alg. 2), in the same run: after ``vqvae_steps`` updates the VQ-VAE is frozen and the steps
that remain train the gated-PixelCNN priors p(c_t) and p(c_b | c_t) (:mod:`.prior`) on the codes of
the training images. ``sample``: c_t ~ p(c_t), c_b ~ p(c_b | c_t), x = D(e(c_t), e(c_b)).

Likelihood (a BOUND, ``elbo``): the encoder is deterministic, so q(c | x) is a point mass at the
codes of x and the ELBO is log p(x | c) + log p(c_t) + log p(c_b | c_t) (the paper's Sec. 3.2
bound), with p(x | c) = N(x; x_hat, sigma^2) per pixel and a learned per-channel sigma (fitted to the
reconstructions without changing the VQ-VAE's gradients). The nll metric reports its bits/dim
flagged ``nll_is_bound``, with the D log 256 of dequantized 8-bit data. Early in training the
decoder term dominates: with sigma near its initial 0.1 and reconstruction error m per pixel it
costs about m / (2 sigma^2 ln 2) bits/dim, so a barely trained model's bound is far above the
uniform model's 8 bits/dim (5 steps on CIFAR-10: m ~ 0.2, ~14 bits/dim from the decoder); untrained
priors cost only log K per code (0.16 bits/dim for CIFAR-10's 80 codes of K = 64).

Config: channels, res_blocks, embed_dim, codes (K per level), decay, commitment, restart_below,
vqvae_steps, prior_hidden, prior_layers, bottom_halvings ("auto" or 1/2).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

from ..quantizer import VectorQuantizer
from .prior import CodePrior

DEFAULTS = dict(channels=64, res_blocks=2, embed_dim=32, codes=256, decay=0.99, commitment=0.25,
                restart_below=1.0, vqvae_steps=1000, prior_hidden=32, prior_layers=5, bottom_halvings="auto",
                log_every=100)
SMALL = dict(channels=32, res_blocks=1, embed_dim=16, codes=64, prior_hidden=16, prior_layers=4)  # <= 16x16


class ResBlock(nn.Module):
    """x + Conv1x1(ReLU(Conv3x3(ReLU(x)))) (the VQ-VAE papers' residual block)."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels // 2, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(channels // 2, channels, 1))

    def forward(self, x):
        return x + self.net(x)


def encoder(c_in: int, channels: int, halvings: int, blocks: int) -> nn.Sequential:
    """``halvings`` stride-2 4x4 convolutions, a 3x3 convolution, residual blocks."""
    layers, c = [], c_in
    for i in range(halvings):
        out = channels // 2 if i < halvings - 1 else channels
        layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.ReLU()]
        c = out
    layers += [nn.Conv2d(c, channels, 3, padding=1), *[ResBlock(channels) for _ in range(blocks)], nn.ReLU()]
    return nn.Sequential(*layers)


def decoder(c_in: int, c_out: int, channels: int, doublings: int, blocks: int) -> nn.Sequential:
    """A 3x3 convolution, residual blocks, ``doublings`` stride-2 4x4 transposed convolutions."""
    layers = [nn.Conv2d(c_in, channels, 3, padding=1), *[ResBlock(channels) for _ in range(blocks)], nn.ReLU()]
    for i in range(doublings):
        last = i == doublings - 1
        layers += [nn.ConvTranspose2d(channels, c_out if last else channels // 2, 4, stride=2, padding=1)]
        if not last:
            layers.append(nn.ReLU())
            channels //= 2
    return nn.Sequential(*layers)


class VQVAE2(Model):
    likelihood = "continuous"

    def __init__(self, shape, config=None):
        super().__init__({**DEFAULTS, **(config or {})})
        cfg = self.config
        C, H, W = self.shape = tuple(shape)
        d = cfg["bottom_halvings"]
        d = (2 if min(H, W) >= 32 else 1) if d == "auto" else int(d)
        if H % 2 ** (d + 1) or W % 2 ** (d + 1):
            raise ValueError(f"vqvae2: images of {H}x{W} do not halve {d + 1} times (bottom_halvings = {d})")
        self.halvings = d
        ch, e, blocks, K = int(cfg["channels"]), int(cfg["embed_dim"]), int(cfg["res_blocks"]), int(cfg["codes"])
        vq = dict(decay=float(cfg["decay"]), commitment=float(cfg["commitment"]),
                  restart_below=float(cfg["restart_below"]), log_every=int(cfg["log_every"]))
        self.enc_b = encoder(C, ch, d, blocks)
        self.enc_t = encoder(ch, ch, 1, blocks)
        self.pre_t = nn.Conv2d(ch, e, 1)
        self.vq_t = VectorQuantizer(K, e, **vq)
        self.dec_t = decoder(e, e, ch, 1, blocks)
        self.pre_b = nn.Conv2d(ch + e, e, 1)
        self.vq_b = VectorQuantizer(K, e, **vq)
        self.up_t = nn.ConvTranspose2d(e, e, 4, stride=2, padding=1)
        self.dec = decoder(2 * e, C, ch, d, blocks)
        self.log_sigma = nn.Parameter(torch.full((C,), math.log(0.1)))
        hb, wb = H // 2 ** d, W // 2 ** d
        prior = dict(hidden=int(cfg["prior_hidden"]), layers=int(cfg["prior_layers"]))
        self.prior_t = CodePrior(K, (hb // 2, wb // 2), **prior)
        self.prior_b = CodePrior(K, (hb, wb), cond_num=K, **prior)
        self._last_batch = None  # a few training images, for the reconstructions PNG
        # the updates each stage has made (a budget shorter than vqvae_steps never reaches stage 2)
        self.register_buffer("vqvae_updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("prior_updates", torch.zeros((), dtype=torch.long))

    @classmethod
    def build(cls, dataset, config):
        if dataset.levels is None or len(dataset.shape) != 3:
            raise ValueError(f"vqvae2 needs images; {dataset.name!r} has shape {tuple(dataset.shape)}")
        C, H, W = dataset.shape
        base = SMALL if H * W <= 256 else {}
        return cls(dataset.shape, {**base, **(config or {})})

    levels = ("top", "bottom")

    def quantizers(self):
        return [self.vq_t, self.vq_b]

    def vqvae_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("prior_")]

    def prior_parameters(self):
        return [*self.prior_t.parameters(), *self.prior_b.parameters()]

    # -- stage 1 ----------------------------------------------------------------------------------
    def quantize(self, x):
        """Both levels: (top Quantized, bottom Quantized)."""
        h_b = self.enc_b(2 * x - 1)
        q_t = self.vq_t(self.pre_t(self.enc_t(h_b)))
        q_b = self.vq_b(self.pre_b(torch.cat([h_b, self.dec_t(q_t.quantized)], 1)))
        return q_t, q_b

    def decode(self, e_t, e_b):
        """x_hat from the top and bottom code vectors (B, e, H_t, W_t), (B, e, H_b, W_b)."""
        return self.dec(torch.cat([self.up_t(e_t), e_b], 1))

    def decode_codes(self, c_t, c_b):
        return self.decode(self.vq_t.lookup(c_t), self.vq_b.lookup(c_b))

    @torch.no_grad()
    def code_maps(self, x):
        """The codes of x: (top (B, H_t, W_t), bottom (B, H_b, W_b)) long tensors."""
        q_t, q_b = self.quantize(x)
        return q_t.codes, q_b.codes

    def reconstruct(self, x):
        q_t, q_b = self.quantize(x)
        return self.decode(q_t.quantized, q_b.quantized)

    # -- capabilities -----------------------------------------------------------------------------
    def elbo(self, x):
        c_t, c_b = self.code_maps(x)
        x_hat = self.decode_codes(c_t, c_b)
        sigma = self.log_sigma.exp()[None, :, None, None]
        log_px = torch.distributions.Normal(x_hat, sigma).log_prob(x).flatten(1).sum(1)
        return log_px + self.prior_t.log_prob(c_t) + self.prior_b.log_prob(c_b, c_t)

    def encode(self, x):
        """The quantized code vectors (the point-mass posterior's mean), top and bottom, flattened."""
        q_t, q_b = self.quantize(x)
        return [q_t.quantized.flatten(1), q_b.quantized.flatten(1)]

    @torch.no_grad()
    def sample(self, n):
        was = self.training
        self.eval()
        try:
            c_t = self.prior_t.sample(n)
            c_b = self.prior_b.sample(n, c_t)
            return self.decode_codes(c_t, c_b).clamp(0, 1)
        finally:
            self.train(was)

    # -- training ---------------------------------------------------------------------------------
    def configure_optimizers(self, lr):
        return [torch.optim.Adam(self.vqvae_parameters(), lr=lr), torch.optim.Adam(self.prior_parameters(), lr=lr)]

    def train_step(self, x, y, optimizers, step, autocast):
        """Stage 1 for the first ``vqvae_steps`` steps, stage 2 (the priors) after."""
        vq_opt, prior_opt = optimizers
        self._last_batch = x[:32].detach()
        if step < int(self.config["vqvae_steps"]):
            vq_opt.zero_grad(set_to_none=True)
            with autocast():
                q_t, q_b = self.quantize(x)
                x_hat = self.decode(q_t.quantized, q_b.quantized).float()
            recon = F.mse_loss(x_hat, x)
            sigma = self.log_sigma.exp()[None, :, None, None]
            fit_sigma = -torch.distributions.Normal(x_hat.detach(), sigma).log_prob(x).mean()
            loss = recon + q_t.loss + q_b.loss
            (loss + fit_sigma).backward()
            vq_opt.step()
            self.vqvae_updates += 1
            return {"loss": loss.detach(), "recon_mse": recon.detach(), "perplexity_top": q_t.perplexity,
                    "perplexity_bottom": q_b.perplexity}
        with torch.no_grad():  # stage 2: the VQ-VAE is frozen (eval mode: no EMA updates either)
            was = self.training
            self.eval()
            c_t, c_b = self.code_maps(x)
            self.train(was)
        prior_opt.zero_grad(set_to_none=True)
        with autocast():
            nll_t = -self.prior_t.log_prob(c_t).mean()
            nll_b = -self.prior_b.log_prob(c_b, c_t).mean()
        (nll_t + nll_b).backward()
        prior_opt.step()
        self.prior_updates += 1
        return {"loss": (nll_t + nll_b).detach(), "prior_top_nats": nll_t.detach(), "prior_bottom_nats": nll_b.detach()}

    # -- artifacts --------------------------------------------------------------------------------
    @torch.no_grad()
    def save_reconstructions(self, path):
        """Last training images (odd rows) over their reconstructions (even rows), as a PNG."""
        if self._last_batch is None:
            return None
        from torchvision.utils import save_image

        was = self.training
        self.eval()
        x = self._last_batch[:max(8, len(self._last_batch) // 8 * 8)]
        if len(x) % 8:
            x = x.repeat(8, 1, 1, 1)[:8]
        x_hat = self.reconstruct(x).clamp(0, 1)
        self.train(was)
        rows = torch.stack([x.view(-1, 8, *x.shape[1:]), x_hat.view(-1, 8, *x.shape[1:])], 1).flatten(0, 2)
        scale = max(1, -(-32 // x.shape[-1]))
        if scale > 1:
            rows = F.interpolate(rows.float().cpu(), scale_factor=scale, mode="nearest")
        save_image(rows.float().cpu(), path, nrow=8, padding=2)
        return path
