"""EBGAN (Zhao, Mathieu & LeCun 2017): D is an auto-encoder whose reconstruction error is an
energy, D_AE(x) = ||Dec(Enc(x)) - x||^2 / dim(x) (mean squared error per example), low on data.

    L_D = E D_AE(x) + E max(0, m - D_AE(G(z)))
    L_G = E D_AE(G(z)) + lambda_PT PT,   PT = 1/(N(N-1)) sum_{i != j} cos(S_i, S_j)^2

S = the encoder's embeddings of a generated batch (the pulling-away term, off when lambda_PT = 0).
Config: ``margin`` (m = 1.0 on the per-dimension energy), ``pt_weight`` (0.1), ``code_dim`` (64).
"""
import torch

from .. import losses
from .autoencoder import AutoEncoderGAN

DEFAULTS = {"margin": 1.0, "pt_weight": 0.1, "code_dim": 64, "batch_norm": False}


def energy(ae, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-example mean squared reconstruction error, embedding)."""
    rec, code = ae(x)
    return ((rec.float() - x.float()) ** 2).flatten(1).mean(1), code


class EBGAN(AutoEncoderGAN):
    @classmethod
    def build(cls, dataset, config):
        return super().build(dataset, {**DEFAULTS, **dict(config)})

    def d_loss(self, x, y):
        with torch.no_grad():
            fake = self.generate(self.draw(len(x)))
        e_real, _ = energy(self.D, x)
        e_fake, _ = energy(self.D, fake)
        terms = {"energy_real": e_real.mean(),
                 "hinge_fake": torch.relu(float(self.config["margin"]) - e_fake).mean()}
        return sum(terms.values()), terms

    def g_loss(self, x, y):
        e_fake, code = energy(self.D, self.generate(self.draw(len(x))))
        terms = {"energy_fake": e_fake.mean()}
        if float(self.config["pt_weight"]) > 0:
            terms["pt"] = float(self.config["pt_weight"]) * losses.pulling_away(code)
        return sum(terms.values()), terms
