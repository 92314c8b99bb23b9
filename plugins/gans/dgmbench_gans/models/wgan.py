"""WGAN (Arjovsky, Chintala & Bottou 2017, Algorithm 1 in the seeds): a critic f_w estimates
W(P_r, P_g) = sup_{||f||_L <= 1} E f(x) - E f(G(z)); Lipschitzness by clipping every critic weight
to [-c, c] after each update; RMSProp, lr 5e-5, c = 0.01, n_critic = 5, m = 64.

    L_D = E f(G(z)) - E f(x),   then w <- clip(w, -c, c)
    L_G = -E f(G(z))

Config: ``clip`` (c).
"""
import torch

from ..base import GAN

DEFAULTS = {"n_critic": 5, "optimizer": "rmsprop", "clip": 0.01}


class WGAN(GAN):
    adversarial = "wasserstein"

    @classmethod
    def build(cls, dataset, config):
        return super().build(dataset, {**DEFAULTS, **dict(config)})

    @torch.no_grad()
    def after_d_step(self) -> None:
        c = float(self.config["clip"])
        for p in self.D.parameters():
            p.clamp_(-c, c)
