"""LSGAN (Mao et al. 2017), least squares with targets a = 0 (fake), b = c = 1 (real), as in the
seeds' table; D outputs a real score (no sigmoid).

    L_D = E (D(x) - 1)^2 + E D(G(z))^2
    L_G = E (D(G(z)) - 1)^2
"""
from ..base import GAN


class LSGAN(GAN):
    adversarial = "ls"
