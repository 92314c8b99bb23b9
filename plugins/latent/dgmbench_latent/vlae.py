"""Variational Lossy Autoencoder (Chen, Kingma, Salimans, Duan, Dhariwal, Schulman, Sutskever &
Abbeel 2017), and its AF VAE ablation.

Lossy code by explicit information placement (Sec. 3.1): the decoder is autoregressive only
over a small window,
    p(x | z) = prod_i p(x_i | z, x_WindowAround(i)),
so local statistics (texture) are modelled by the window and global structure (shape, class)
can only reach the pixels through z. The prior is an autoregressive flow (Sec. 3.2):
    p(z) = N(u; 0, I) |det du/dz|,  u = AF(z)   (:class:`dgmbench_flows.autoregressive.AFPrior`),
which is, per unit of compute, as expressive as an IAF posterior of the same size and, unlike
it, also lowers the code's cost (the KL term): Chen et al. argue an AF prior should do better.
Posterior: a diagonal Gaussian from the ResNet encoder (``iaf_steps`` = 0 by default).
Objective: the ELBO E_q[log p(x | z) + log p(z) - log q(z | x)], evaluated by importance
sampling with k = ``nll_k`` as for the other latent-variable models.

The windowed decoder (:class:`WindowedPixelCNN`): ONE masked convolution of size
(2 ``window`` + 1)^2 over x with a type-A mask (Oord et al. 2016: the rows above within
``window`` and the pixels to the left within ``window`` in the same row; never the current pixel,
never a later one), then ``pixel_layers`` 1x1 convolutions, each also fed the ResNet decoder's
features of z. 1x1 layers do not widen the receptive field, so it is exactly the window (the
paper stacks small masked convolutions to reach its window; one larger mask gives the same
"small window" with a receptive field that can be stated exactly). On colour images all channels
of a pixel are predicted from the window and z together (no R -> G -> B order inside the pixel).

Models (presets and widths: :mod:`dgmbench_latent.iaf_vae`, whose ResNet VAE this extends):
* ``vlae``:   AF prior + windowed PixelCNN decoder (the paper's ResNet VLAE); with config
  ``backbone=densenet`` the DenseNet VLAE of the CIFAR-10 table (Table 5: 2.95 against the ResNet
  VLAE's 3.04 bits/dim): dense blocks (Huang et al. 2017) where the ResNet VLAE has residual blocks,
  everything else the same (the dense blocks' layers and growth are this suite's choice).
* ``af-vae``: AF prior + factorized decoder. The notes' MNIST table lists "AF VAE" between the IAF
  VAE and VLAE; this suite reads it as the VLAE with the window removed, so that IAF VAE -> AF VAE
  compares posterior flow against prior flow and AF VAE -> VLAE the decoder alone (the vlae
  protocol's questions 2 and 3).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .iaf_vae import ResNetVAE, resolve_config


def window_mask(window: int) -> torch.Tensor:
    """Type-A mask of a (2w+1) x (2w+1) kernel: 1 on the rows above the centre and left of it."""
    k = 2 * window + 1
    mask = torch.zeros(k, k)
    mask[:window, :] = 1
    mask[window, :window] = 1
    return mask


class WindowedPixelCNN(nn.Module):
    """p(x_i | z, x_window(i)): parameters (out, H, W) from x (C, H, W) and features of z."""

    def __init__(self, c_in: int, feat: int, c_out: int, window: int, channels: int, layers: int):
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self.window = int(window)
        self.conv = nn.Conv2d(c_in, channels, 2 * window + 1, padding=window)
        self.register_buffer("mask", window_mask(window)[None, None])
        self.cond = nn.Conv2d(feat, channels, 1)
        self.hidden = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(layers))
        self.hidden_cond = nn.ModuleList(nn.Conv2d(feat, channels, 1) for _ in range(layers))
        self.out = nn.Conv2d(channels, c_out, 1)

    def forward(self, x, feats):
        return self._head(F.conv2d(x, self.conv.weight * self.mask, self.conv.bias, padding=self.window), feats)

    def _head(self, h, feats):
        h = F.elu(h + self.cond(feats))
        for layer, cond in zip(self.hidden, self.hidden_cond):
            h = F.elu(layer(h) + cond(feats))
        return self.out(h)

    def pixel(self, x_padded, feats, i: int, j: int):
        """The parameters at pixel (i, j) alone, from its window: x_padded is x with ``window``
        zeros on every side (what ``forward``'s padding adds), feats (B, F, H, W). Equal to
        ``forward(x, feats)[..., i, j]``; sampling calls it H x W times instead of the whole map."""
        w = self.window
        patch = x_padded[:, :, i:i + 2 * w + 1, j:j + 2 * w + 1]
        h = F.conv2d(patch, self.conv.weight * self.mask, self.conv.bias)
        return self._head(h, feats[:, :, i:i + 1, j:j + 1])


def build_vlae(ds, config):
    """``vlae``: AF prior, windowed PixelCNN decoder, diagonal-Gaussian posterior."""
    cfg = resolve_config({"prior": "af", "decoder": "pixelcnn", "iaf_steps": 0}, config)
    return ResNetVAE(ds.shape, ds.levels, cfg)


def build_af_vae(ds, config):
    """``af-vae``: AF prior, factorized decoder, diagonal-Gaussian posterior."""
    cfg = resolve_config({"prior": "af", "decoder": "factorized", "iaf_steps": 0}, config)
    return ResNetVAE(ds.shape, ds.levels, cfg)
