"""DRAW: A Recurrent Neural Network for Image Generation (Gregor, Danihelka, Graves, Rezende &
Wierstra 2015).

For t = 1..T, with canvas c_0 = 0 and decoder state h^dec_0 = 0 (eq. 3-8):
    x_hat_t   = x - sigmoid(c_{t-1})                       error image
    r_t       = read(x, x_hat_t, h^dec_{t-1})              attention glimpse of both
    h^enc_t   = LSTM^enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])
    z_t       ~ Q(z_t | h^enc_t) = N(mu(h^enc_t), sigma(h^enc_t)^2)
    h^dec_t   = LSTM^dec(h^dec_{t-1}, z_t)
    c_t       = c_{t-1} + write(h^dec_t)
and D(x | c_T) = Bernoulli(sigmoid(c_T)) per pixel. The loss is the negative variational bound
(eq. 9-12), with the prior p(z_t) = N(0, I) at every step:
    L = L^x + L^z,   L^x = -log D(x | c_T),
    L^z = sum_t KL(Q(z_t | h^enc_t) || N(0, I)) = sum_t 1/2 sum_j (mu^2 + sigma^2 - log sigma^2 - 1),
so -L is a lower bound on log p(x). ``bound_terms`` returns L^x and the T KL terms; ``elbo`` is
their sum. Evaluation, as in the paper's MNIST table ("<= 80.97"): the bound itself, one draw of
z_1..z_T per test image with the KL terms in closed form; the ``nll`` metric flags it
(``nll_is_bound`` = 1). No importance-sampled estimate is offered.

Selective attention (Sec. 3.2, eq. 19-25): an N x N grid of Gaussian filters from h^dec,
    (g~_X, g~_Y, log sigma^2, log delta~, log gamma) = W(h^dec),
    g_X = (A + 1)(g~_X + 1) / 2,   g_Y = (B + 1)(g~_Y + 1) / 2,   delta = (max(A, B) - 1) delta~ / (N - 1),
    mu^i_X = g_X + (i - N/2 - 1/2) delta,   F_X[i, a] = exp(-(a - mu^i_X)^2 / (2 sigma^2)) / Z_X,
    read  = gamma [F_Y x F_X^T, F_Y x_hat F_X^T],   write = (1 / gamma_hat) F_Y_hat^T w F_X_hat,  w = W(h^dec).
``read_n`` = 0 and ``write_n`` = 0 give the attention-free variant (read the whole images, write
through a linear layer).

The paper's MNIST model (Table 3): 256 LSTM units each, T = 64 glimpses, 100 latent units, read
N = 2, write N = 5 (the defaults here, preset ``paper``). Preset ``small`` (CPU budgets): 64 units,
T = 8, 16 latents. Binary data only (Bernoulli D); grey images of one channel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

from .networks import require_binary, resolve_preset

PRESETS = {"paper": {"units": 256, "steps": 64, "latent": 100, "read_n": 2, "write_n": 5},
           "small": {"units": 64, "steps": 8, "latent": 16, "read_n": 2, "write_n": 5}}


def filterbank(g, log_var, delta, n: int, size: int):
    """F (B, N, size): N Gaussian filters centred at g + (i - N/2 - 1/2) delta, i = 1..N,
    each normalized to sum 1 over the ``size`` pixels."""
    i = torch.arange(1, n + 1, device=g.device, dtype=g.dtype)
    mu = g + (i - n / 2 - 0.5) * delta                               # (B, N)
    a = torch.arange(size, device=g.device, dtype=g.dtype)
    f = torch.exp(-((a - mu[..., None]) ** 2) / (2 * log_var.exp()[..., None]))
    return f / f.sum(-1, keepdim=True).clamp_min(1e-8)


class Attention(nn.Module):
    """The five attention parameters from h^dec and the filterbanks F_X, F_Y and intensity gamma."""

    def __init__(self, units: int, n: int, height: int, width: int):
        super().__init__()
        self.n, self.h, self.w = n, height, width
        self.params = nn.Linear(units, 5)

    def forward(self, h_dec):
        gx, gy, log_var, log_delta, log_gamma = self.params(h_dec).unsqueeze(-1).unbind(-2)
        gx = (self.w + 1) * (gx + 1) / 2
        gy = (self.h + 1) * (gy + 1) / 2
        delta = (max(self.h, self.w) - 1) / max(self.n - 1, 1) * log_delta.exp()
        fx = filterbank(gx, log_var, delta, self.n, self.w)
        fy = filterbank(gy, log_var, delta, self.n, self.h)
        return fx, fy, log_gamma.exp()


class StepwiseBound(Model):
    """DRAW's bound (eq. 9-12), shared with Convolutional DRAW: from a subclass's ``bound_terms``
    (log p(x | c_T) of shape (B,) and the T per-step KL terms (T, B)),
        ELBO = log p(x | c_T) - sum_t KL_t,   loss = -mean ELBO."""

    def elbo(self, x):
        terms = self.bound_terms(x)
        return terms["reconstruction"] - terms["kl"].sum(0)

    def loss(self, x, y=None):
        return -self.elbo(x).mean()


class DRAW(StepwiseBound):
    """The DRAW network with LSTM encoder and decoder and (optional) selective attention."""

    likelihood = "discrete"

    def __init__(self, shape, config: dict):
        super().__init__(config)
        c = self.config
        if len(shape) != 3 or shape[0] != 1:
            raise ValueError(f"DRAW here models one-channel images, not shape {tuple(shape)}")
        self.shape = tuple(shape)
        _, self.h, self.w = shape
        self.units, self.steps, self.latent = int(c["units"]), int(c["steps"]), int(c["latent"])
        self.read_n, self.write_n = int(c["read_n"]), int(c["write_n"])
        d = self.h * self.w
        read_size = 2 * self.read_n ** 2 if self.read_n else 2 * d
        self.enc = nn.LSTMCell(read_size + self.units, self.units)
        self.dec = nn.LSTMCell(self.latent, self.units)
        self.q = nn.Linear(self.units, 2 * self.latent)
        if self.read_n:
            self.read_att = Attention(self.units, self.read_n, self.h, self.w)
        if self.write_n:
            self.write_att = Attention(self.units, self.write_n, self.h, self.w)
            self.write_patch = nn.Linear(self.units, self.write_n ** 2)
        else:
            self.write_patch = nn.Linear(self.units, d)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @classmethod
    def build(cls, ds, config):
        config = resolve_preset(PRESETS, config)
        require_binary(ds, "DRAW's output distribution")
        return cls(ds.shape, config)

    def read(self, x, x_hat, h_dec):
        if not self.read_n:
            return torch.cat([x, x_hat], -1)
        fx, fy, gamma = self.read_att(h_dec)
        img = torch.stack([x, x_hat], 1).view(len(x), 2, self.h, self.w)
        glimpse = fy[:, None] @ img @ fx[:, None].transpose(-1, -2)      # (B, 2, N, N)
        return (gamma[:, None, None] * glimpse).flatten(1)

    def write(self, h_dec):
        w = self.write_patch(h_dec)
        if not self.write_n:
            return w
        fx, fy, gamma = self.write_att(h_dec)
        patch = w.view(-1, self.write_n, self.write_n)
        return (fy.transpose(-1, -2) @ patch @ fx).flatten(1) / gamma

    def bound_terms(self, x):
        """{"reconstruction": log D(x | c_T) (B,), "kl": KL per step (T, B)}; ELBO = rec - sum kl."""
        x = x.flatten(1)
        b = len(x)
        zeros = x.new_zeros(b, self.units)
        h_enc, c_enc, h_dec, c_dec = zeros, zeros, zeros, zeros
        canvas = x.new_zeros(b, self.h * self.w)
        kls = []
        for _ in range(self.steps):
            x_hat = x - torch.sigmoid(canvas)
            r = self.read(x, x_hat, h_dec)
            h_enc, c_enc = self.enc(torch.cat([r, h_dec], -1), (h_enc, c_enc))
            mu, log_sigma = self.q(h_enc).chunk(2, -1)
            z = mu + log_sigma.exp() * torch.randn_like(mu)
            kls.append(0.5 * (mu * mu + (2 * log_sigma).exp() - 2 * log_sigma - 1).sum(-1))
            h_dec, c_dec = self.dec(z, (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
        rec = -F.binary_cross_entropy_with_logits(canvas, x, reduction="none").sum(-1)
        return {"reconstruction": rec, "kl": torch.stack(kls)}

    @torch.no_grad()
    def sample(self, n):
        """z_t ~ N(0, I), the decoder and canvas as in training; the image is sigmoid(c_T)."""
        zeros = self._anchor.new_zeros(n, self.units)
        h_dec, c_dec = zeros, zeros
        canvas = self._anchor.new_zeros(n, self.h * self.w)
        for _ in range(self.steps):
            h_dec, c_dec = self.dec(torch.randn(n, self.latent, device=zeros.device), (h_dec, c_dec))
            canvas = canvas + self.write(h_dec)
        return torch.sigmoid(canvas).view(n, *self.shape)
