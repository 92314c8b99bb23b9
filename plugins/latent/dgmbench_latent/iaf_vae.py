"""ResNet VAE with an inverse autoregressive flow posterior (Kingma, Salimans, Jozefowicz, Chen,
Sutskever & Welling 2016, "Improved Variational Inference with Inverse Autoregressive Flow").

Generative model: p(z) = N(0, I) over d latent units, p(x | z) a factorized per-pixel
distribution (Bernoulli on binarized data, discretized logistic on 8-bit images) whose parameters
a ResNet decoder computes from z.

Inference model (Sec. 4, eq. 10-14): the ResNet encoder outputs mu_0, sigma_0 and a context h;
    z_0 = mu_0 + sigma_0 * eps,  eps ~ N(0, I)
    z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t,  [m_t, s_t] = MADE_t(z_{t-1}, h),  sigma_t = sigmoid(s_t)
    log q(z_T | x) = -sum_i (eps_i^2 / 2 + log sigma_0,i + log(2 pi) / 2) - sum_t sum_i log sigma_t,i
(the MADE layers and the IAF step are :mod:`dgmbench_flows.autoregressive`, shared with flows).

Objective: the ELBO E_q[log p(x | z_T) + log p(z_T) - log q(z_T | x)]; the importance weights
log w = log p(x, z_T) - log q(z_T | x) give the k-sample estimate the ``nll`` metric reports
(k = 5000 in the paper's MNIST table). Trained with Adam at the budget's learning rate (the paper
uses Adamax; the suite gives every model of a table the same optimizer budget).

Architecture (after the paper's MNIST model, Sec. 5.1; the widths are this suite's choice and
were not checked against the paper's appendix): a single stochastic layer of ``latent`` = 32
units; encoder and decoder ResNets of ``channels`` = 64 maps with ``blocks`` = 2 residual blocks
per resolution (28 -> 14 -> 7); ``iaf_steps`` = 2 IAF steps, each a MADE with ``made_hidden`` =
[320, 320] units, context ``hidden`` = 450. The paper's CIFAR-10 model (a hierarchy of stochastic
ResNet blocks with bidirectional inference) is :mod:`dgmbench_latent.iaf_hierarchy`
(``iaf-hierarchical-vae``, the ``iaf-vae`` cell of ``cifar10-bpd``).

Presets (config ``preset``): ``paper`` (above) and ``small``, a CPU-sized model for the CPU
budgets (channels 16, 1 block, latent 16, 2 IAF steps of [64]); any key given explicitly wins.

Config: ``preset``, ``latent``, ``channels``, ``blocks``, ``backbone`` (``resnet``, or ``densenet``:
dense blocks in place of the residual ones, :class:`dgmbench_latent.pixels.DenseBlock`), ``hidden``,
``iaf_steps`` (0: the diagonal-Gaussian posterior), ``made_hidden``, plus (used by VLAE and AF VAE, which share this
class) ``prior`` (``gaussian`` | ``af``), ``af_steps``, ``decoder`` (``factorized`` | ``pixelcnn``),
``window``, ``pixel_channels``, ``pixel_layers``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dgmbench.model import Model

from .networks import resolve_preset
from .pixels import (
    ResNetDecoder,
    ResNetEncoder,
    block_type,
    params_per_pixel,
    pixel_log_prob,
    pixel_mean,
    pixel_sample,
)

LOG_2PI = math.log(2 * math.pi)

PRESETS = {
    "paper": {"latent": 32, "channels": 64, "blocks": 2, "hidden": 450, "iaf_steps": 2, "made_hidden": [320, 320],
              "af_steps": 2, "window": 3, "pixel_channels": 64, "pixel_layers": 2},
    "small": {"latent": 16, "channels": 16, "blocks": 1, "hidden": 64, "iaf_steps": 2, "made_hidden": [64],
              "af_steps": 2, "window": 3, "pixel_channels": 16, "pixel_layers": 1},
}



def resolve_config(defaults: dict, config: dict | None) -> dict:
    """The preset's values, then the model's defaults, then the explicit config."""
    return resolve_preset(PRESETS, config, defaults)


class ResNetVAE(Model):
    """One stochastic layer; posterior: diagonal Gaussian + ``iaf_steps`` IAF steps; prior:
    N(0, I) or an autoregressive flow; decoder: factorized, or a windowed PixelCNN (VLAE)."""

    likelihood = "discrete"

    def __init__(self, shape, levels: int, config: dict):
        super().__init__(config)
        from dgmbench_flows.autoregressive import AFPrior, IAFPosterior

        c = self.config
        if levels is None:
            raise ValueError("the ResNet VAE models discrete pixels; this dataset is real-valued")
        if len(shape) != 3:
            raise ValueError(f"the ResNet VAE needs images (C, H, W), not shape {tuple(shape)}")
        self.shape, self.levels, self.latent = tuple(shape), int(levels), int(c["latent"])
        block = block_type(c.get("backbone", "resnet"))
        self.encoder = ResNetEncoder(shape, c["channels"], c["blocks"], c["hidden"], block)
        self.q0 = nn.Linear(c["hidden"], 2 * self.latent)
        self.iaf = IAFPosterior(self.latent, c["iaf_steps"], c["made_hidden"], c["hidden"])
        if c.get("prior", "gaussian") not in ("gaussian", "af"):
            raise ValueError(f"prior must be gaussian or af, not {c['prior']!r}")
        self.af_prior = AFPrior(self.latent, c["af_steps"], c["made_hidden"]) if c.get("prior") == "af" else None
        self.decoder_net = ResNetDecoder(shape, self.latent, c["channels"], c["blocks"], block)
        out = params_per_pixel(self.levels) * shape[0]
        self.pixelcnn = None
        if c.get("decoder", "factorized") == "pixelcnn":
            from .vlae import WindowedPixelCNN
            self.pixelcnn = WindowedPixelCNN(shape[0], c["channels"], out, c["window"], c["pixel_channels"],
                                             c["pixel_layers"])
        elif c.get("decoder", "factorized") == "factorized":
            self.head = nn.Conv2d(c["channels"], out, 1)
        else:
            raise ValueError(f"decoder must be factorized or pixelcnn, not {c['decoder']!r}")
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    # -- the pieces of the bound ----------------------------------------------------------------
    def sample_posterior(self, x, k: int):
        """(z_T (k, B, d), log q(z_T | x) (k, B), mu_0 (B, d))."""
        h = self.encoder(x)
        mu, log_sigma = self.q0(h).chunk(2, -1)
        eps = torch.randn(k, *mu.shape, device=mu.device, dtype=mu.dtype)
        z0 = mu + log_sigma.exp() * eps
        log_q0 = -(0.5 * eps * eps + log_sigma + 0.5 * LOG_2PI).sum(-1)
        z, log_q = self.iaf(z0, log_q0, h)
        return z, log_q, mu

    def prior_log_prob(self, z):
        if self.af_prior is not None:
            return self.af_prior.log_prob(z)
        return -0.5 * (z * z).sum(-1) - 0.5 * self.latent * LOG_2PI

    def decoder_params(self, z, x):
        """Per-pixel parameters of p(x | z) (..., P*C, H, W); x is read only by the PixelCNN,
        whose window at pixel i covers pixels before i only."""
        feats = self.decoder_net(z)
        lead = feats.shape[:-3]
        flat = feats.reshape(-1, *feats.shape[-3:])
        if self.pixelcnn is None:
            out = self.head(flat)
        else:
            out = self.pixelcnn(x.expand(*lead, *x.shape[-3:]).reshape(-1, *x.shape[-3:]), flat)
        return out.view(*lead, *out.shape[1:])

    def log_importance_weights(self, x, k):
        z, log_q, _ = self.sample_posterior(x, k)
        return pixel_log_prob(self.decoder_params(z, x), x, self.levels) + self.prior_log_prob(z) - log_q

    def elbo(self, x):
        return self.log_importance_weights(x, 1)[0]

    def loss(self, x, y=None):
        return -self.elbo(x).mean()

    # -- generation and inference -----------------------------------------------------------------
    def prior_sample(self, n):
        if self.af_prior is not None:
            return self.af_prior.sample(n, self._anchor.device)
        return torch.randn(n, self.latent, device=self._anchor.device)

    @torch.no_grad()
    def decode(self, z, draw: bool = True):
        """x given z: for the PixelCNN decoder one pixel at a time (each a draw); for the
        factorized decoder a draw (``draw``) or the mean."""
        if self.pixelcnn is None:
            params = self.head(self.decoder_net(z))
            return pixel_sample(params, self.levels) if draw else pixel_mean(params, self.levels)
        feats = self.decoder_net(z)
        w = self.pixelcnn.window
        _, h, width = self.shape
        x_pad = torch.zeros(len(z), self.shape[0], h + 2 * w, width + 2 * w, device=z.device)
        for i in range(h):
            for j in range(width):
                params = self.pixelcnn.pixel(x_pad, feats, i, j)
                x_pad[:, :, i + w, j + w] = pixel_sample(params, self.levels)[:, :, 0, 0]
        x = x_pad[:, :, w:w + h, w:w + width]
        return x

    @torch.no_grad()
    def sample(self, n):
        return self.decode(self.prior_sample(n), draw=self.pixelcnn is not None)

    @torch.no_grad()
    def encode(self, x):
        """[mu_0(x)]: the mean of q(z_0 | x) (the IAF's mean has no closed form)."""
        return [self.q0(self.encoder(x)).chunk(2, -1)[0]]

    @torch.no_grad()
    def reconstruct(self, x):
        """x' ~ p(x | z) at z = z_T(mu_0): what the code keeps; for the PixelCNN decoder the
        local texture is drawn anew."""
        h = self.encoder(x)
        mu, _ = self.q0(h).chunk(2, -1)
        z, _ = self.iaf(mu[None], torch.zeros(1, len(x), device=x.device), h)
        return self.decode(z[0], draw=self.pixelcnn is not None)


def build(ds, config):
    """The IAF VAE (``iaf-vae``): Gaussian prior, IAF posterior, factorized decoder."""
    cfg = resolve_config({"prior": "gaussian", "decoder": "factorized"}, config)
    return ResNetVAE(ds.shape, ds.levels, cfg)

