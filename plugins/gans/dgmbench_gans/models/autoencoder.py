"""The auto-encoder discriminator of EBGAN and BEGAN: D's encoder (the shared backbone, its head
giving a ``code_dim`` embedding, no batch norm) and a G-shaped decoder back to the data."""
import torch
from torch import nn

from ..backbone import build_decoder, build_discriminator
from ..base import GAN


class AutoEncoderD(nn.Module):
    def __init__(self, shape, width: int, code_dim: int, layers: int, spectral_norm: bool = False):
        super().__init__()
        self.encoder = build_discriminator(shape, width, out_dim=code_dim, layers=layers, spectral_norm=spectral_norm,
                                           batch_norm=False)
        self.decoder = build_decoder(shape, code_dim, width, layers=layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, embedding)."""
        code = self.encoder(x)
        return self.decoder(code), code

    # the backbone's feature access, for feature matching
    def features(self, x, c=None):
        return self.encoder.features(x)


class AutoEncoderGAN(GAN):
    """A GAN whose D is an :class:`AutoEncoderD` (config ``code_dim``); BEGAN and EBGAN."""

    def build_critic(self):
        c = self.config
        return AutoEncoderD(self.shape, int(c["width"]), int(c["code_dim"]), int(c["layers"]), bool(c["spectral_norm"]))
