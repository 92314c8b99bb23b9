"""NS-GAN: the GAN with the non-saturating generator loss (Goodfellow et al. 2014, Sec. 3;
the seeds' table's L_G^GAN = E log D(G(z)), maximized).

    L_D = -E log D(x) - E log(1 - D(G(z)))
    L_G = -E log D(G(z))
"""
from ..base import GAN


class NSGAN(GAN):
    adversarial = "ns"
