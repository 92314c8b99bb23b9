"""Convolutional DRAW (Gregor, Besse, Rezende, Danihelka & Wierstra 2016, "Towards Conceptual
Compression").

DRAW's recurrence with convolutional LSTMs and no attention: the latents z_t are small feature
maps (H/2 x W/2), and the prior is learnt from the decoder state, p(z_t | h^dec_{t-1}). For
t = 1..T, canvas c_0 = 0 (in the space of the output distribution's parameters):
    x_hat_t  = x - mean(c_{t-1})
    h^enc_t  = ConvLSTM^enc(h^enc_{t-1}, [E(x, x_hat_t), h^dec_{t-1}])   E: a stride-2 convolution
    z_t      ~ q(z_t | h^enc_t) = N(mu_q, sigma_q^2),   p(z_t | h^dec_{t-1}) = N(mu_p, sigma_p^2)
    h^dec_t  = ConvLSTM^dec(h^dec_{t-1}, z_t)
    c_t      = c_{t-1} + W(h^dec_t)                                      W: a stride-2 transposed conv
Bound (the same form as DRAW's): log p(x) >= log p(x | c_T) - sum_t KL(q(z_t | .) || p(z_t | .)),
each KL between diagonal Gaussians in closed form; p(x | c_T) Bernoulli on binary data, the
discretized logistic (:mod:`dgmbench_latent.pixels`) on 8-bit images. Reported, as in the paper's
CIFAR-10 row ("3.58" bits/dim, an upper bound), as the bound with one draw of z per test image
(``nll_is_bound`` = 1).

Presets: ``paper`` (64 LSTM maps, T = 16, 8 latent maps: this suite's widths; the paper's exact
sizes were not checked) and ``small`` (16 maps, T = 4, 4 latent maps) for the CPU budgets.
"""
from __future__ import annotations

import torch
from torch import nn

from .draw import StepwiseBound
from .networks import resolve_preset
from .pixels import params_per_pixel, pixel_log_prob, pixel_mean, pixel_sample

PRESETS = {"paper": {"units": 64, "steps": 16, "latent": 8},
           "small": {"units": 16, "steps": 4, "latent": 4}}


class ConvLSTMCell(nn.Module):
    """LSTM whose gates are 3x3 convolutions of [input, h] (Shi et al. 2015)."""

    def __init__(self, c_in: int, units: int):
        super().__init__()
        self.gates = nn.Conv2d(c_in + units, 4 * units, 3, padding=1)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def gaussian_kl(mu_q, log_s_q, mu_p, log_s_p):
    """KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) summed over all but the batch axis."""
    kl = log_s_p - log_s_q + ((2 * log_s_q).exp() + (mu_q - mu_p) ** 2) / (2 * (2 * log_s_p).exp()) - 0.5
    return kl.flatten(1).sum(-1)


class ConvDRAW(StepwiseBound):
    likelihood = "discrete"

    def __init__(self, shape, levels: int, config: dict):
        super().__init__(config)
        c = self.config
        ch, h, w = shape
        if h % 2 or w % 2:
            raise ValueError(f"Convolutional DRAW needs even H and W, not {h}x{w}")
        self.shape, self.levels = tuple(shape), int(levels)
        self.units, self.steps, self.latent = int(c["units"]), int(c["steps"]), int(c["latent"])
        out = params_per_pixel(self.levels) * ch
        self.read = nn.Conv2d(2 * ch, self.units, 4, stride=2, padding=1)
        self.enc = ConvLSTMCell(2 * self.units, self.units)
        self.dec = ConvLSTMCell(self.latent, self.units)
        self.q = nn.Conv2d(self.units, 2 * self.latent, 3, padding=1)
        self.p = nn.Conv2d(self.units, 2 * self.latent, 3, padding=1)
        self.write = nn.ConvTranspose2d(self.units, out, 4, stride=2, padding=1)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @classmethod
    def build(cls, ds, config):
        config = resolve_preset(PRESETS, config)
        if ds.levels is None or len(ds.shape) != 3:
            raise ValueError(f"Convolutional DRAW models images of discrete pixels; {ds.name} is not one")
        return cls(ds.shape, ds.levels, config)

    def _zeros(self, b):
        _, h, w = self.shape
        return self._anchor.new_zeros(b, self.units, h // 2, w // 2)

    def bound_terms(self, x):
        """{"reconstruction": log p(x | c_T) (B,), "kl": KL per step (T, B)}."""
        b = len(x)
        h_enc = c_enc = h_dec = c_dec = self._zeros(b)
        canvas = self._anchor.new_zeros(b, self.write.out_channels, *self.shape[1:])
        kls = []
        for _ in range(self.steps):
            x_hat = x - pixel_mean(canvas, self.levels)
            r = self.read(torch.cat([x, x_hat], 1))
            h_enc, c_enc = self.enc(torch.cat([r, h_dec], 1), (h_enc, c_enc))
            mu_q, log_s_q = self.q(h_enc).chunk(2, 1)
            mu_p, log_s_p = self.p(h_dec).chunk(2, 1)
            z = mu_q + log_s_q.exp() * torch.randn_like(mu_q)
            kls.append(gaussian_kl(mu_q, log_s_q, mu_p, log_s_p))
            h_dec, c_dec = self.dec(z, (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
        return {"reconstruction": pixel_log_prob(canvas, x, self.levels), "kl": torch.stack(kls)}

    @torch.no_grad()
    def sample(self, n):
        """z_t ~ p(z_t | h^dec_{t-1}); the image is the mean of p(x | c_T) (binary) or a draw."""
        h_dec = c_dec = self._zeros(n)
        canvas = self._anchor.new_zeros(n, self.write.out_channels, *self.shape[1:])
        for _ in range(self.steps):
            mu_p, log_s_p = self.p(h_dec).chunk(2, 1)
            z = mu_p + log_s_p.exp() * torch.randn_like(mu_p)
            h_dec, c_dec = self.dec(z, (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
        return pixel_mean(canvas, self.levels) if self.levels == 2 else pixel_sample(canvas, self.levels)
