"""AC-GAN (Odena, Olah & Shlens 2017): G(z, c) sees the class one-hot; D sees only the image and
has an auxiliary classifier head P(C | x) beside its real/fake output.

    L_D = -E log D(x) - E log(1 - D(G(z, c))) - E log P(C = y | x) - E log P(C = c | G(z, c))
    L_G = -E log D(G(z, c)) - E log P(C = c | G(z, c))

(the seeds' table's E[P(class = c | x)] terms, as log-likelihoods).
"""
import torch.nn.functional as F

from ..base import GAN
from .cgan import ConditionalMixin


class ACGAN(ConditionalMixin, GAN):
    adversarial = "ns"

    def __init__(self, dataset, config):
        self.num_classes = int(dataset.num_classes or 0)
        self.check_labels()
        self.d_outputs = 1 + self.num_classes
        super().__init__(dataset, config)

    def g_extra(self):
        return self.num_classes

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw):
        return {"class_real": F.cross_entropy(out_real[:, 1:], y.long()),
                "class_fake": F.cross_entropy(out_fake[:, 1:], draw["target"])}

    def extra_g_loss(self, fake, out_fake, draw):
        return {"class_fake": F.cross_entropy(out_fake[:, 1:], draw["target"])}
