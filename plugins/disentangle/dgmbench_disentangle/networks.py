"""The encoder and decoder of disentanglement_lib (Locatello et al. 2019, Table 1 of its appendix),
and its fully connected variant for small inputs.

Convolutional, for 64x64 images: x -> four 4x4 stride-2 convolutions (32, 32, 64, 64 channels,
ReLU) -> dense 256 (ReLU) -> 2 d (mean and log-variance of q(z | x)); the decoder mirrors it:
z -> dense 256 -> dense 4*4*64 (ReLU) -> four 4x4 stride-2 transposed convolutions (64, 32, 32,
channels) -> Bernoulli logits. Fully connected: x -> 1200 -> 1200 (ReLU) -> 2 d; z -> 1200 ->
1200 -> 1200 (tanh) -> logits.
"""
from __future__ import annotations

import math

from torch import nn


def conv_encoder(channels: int, latent: int) -> nn.Module:
    conv = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 4, 2, 1), nn.ReLU())  # noqa: E731
    return nn.Sequential(conv(channels, 32), conv(32, 32), conv(32, 64), conv(64, 64), nn.Flatten(),
                         nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 2 * latent))


def conv_decoder(channels: int, latent: int) -> nn.Module:
    up = lambda i, o: nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.ReLU())  # noqa: E731
    return nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 64 * 4 * 4), nn.ReLU(),
                         nn.Unflatten(1, (64, 4, 4)), up(64, 64), up(64, 32), up(32, 32),
                         nn.ConvTranspose2d(32, channels, 4, 2, 1))


def mlp_encoder(shape, latent: int, hidden: int = 1200) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.ReLU(), nn.Linear(hidden, 2 * latent))


def mlp_decoder(shape, latent: int, hidden: int = 1200) -> nn.Module:
    return nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, math.prod(shape)),
                         nn.Unflatten(1, tuple(shape)))


def build_networks(shape, latent: int, kind: str = "auto", hidden: int = 1200):
    """(encoder, decoder): convolutional for 64x64 images (``auto``), fully connected otherwise."""
    if kind == "auto":
        kind = "conv" if len(shape) == 3 and tuple(shape[1:]) == (64, 64) else "mlp"
    if kind == "conv":
        if len(shape) != 3 or tuple(shape[1:]) != (64, 64):
            raise ValueError(f"net=conv needs 64x64 images, not shape {tuple(shape)} (use net=mlp)")
        return conv_encoder(shape[0], latent), conv_decoder(shape[0], latent)
    if kind == "mlp":
        return mlp_encoder(shape, latent, hidden), mlp_decoder(shape, latent, hidden)
    raise ValueError(f"net must be auto, conv or mlp, not {kind!r}")


def discriminator(latent: int, hidden: int = 1000, layers: int = 6) -> nn.Module:
    """FactorVAE's total-correlation discriminator (Kim & Mnih 2018, Appendix): an MLP of
    ``layers`` layers of ``hidden`` units, LeakyReLU(0.2), two logits (joint, product of marginals)."""
    mods, width = [], latent
    for _ in range(layers - 1):
        mods += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    return nn.Sequential(*mods, nn.Linear(width, 2))
