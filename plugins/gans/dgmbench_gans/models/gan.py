"""GAN (Goodfellow et al. 2014) with the original minimax generator loss.

    L_D = -E log D(x) - E log(1 - D(G(z)))
    L_G =  E log(1 - D(G(z)))          (saturates: its gradient vanishes while D rejects G(z))
"""
from ..base import GAN


class MinimaxGAN(GAN):
    adversarial = "minimax"
