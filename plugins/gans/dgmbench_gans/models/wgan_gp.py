"""WGAN-GP (Gulrajani et al. 2017, Algorithm 1): the Wasserstein critic with a gradient penalty
instead of clipping, at random points between real and generated examples.

    x_hat = eps x + (1 - eps) G(z),  eps ~ U[0, 1]
    L_D = E f(G(z)) - E f(x) + lambda E (||grad f(x_hat)||_2 - 1)^2
    L_G = -E f(G(z))

lambda = 10, n_critic = 5, Adam lr 1e-4, betas (0, 0.9); no batch norm in the critic (the penalty
is per example; the paper drops it). Config: ``gp_lambda``.
"""
from .. import losses
from ..base import GAN

DEFAULTS = {"n_critic": 5, "beta1": 0.0, "beta2": 0.9, "gp_lambda": 10.0, "batch_norm": False}


class WGANGP(GAN):
    adversarial = "wasserstein"

    @classmethod
    def build(cls, dataset, config):
        return super().build(dataset, {**DEFAULTS, **dict(config)})

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw) -> dict:
        points = losses.interpolate(x, fake)
        gp = losses.gradient_penalty(lambda p: self.D(p)[:, :1], points)
        return {"gp": float(self.config["gp_lambda"]) * gp}
