"""DRAGAN (Kodali et al. 2017, "On Convergence and Stability of GANs"): the GAN with a gradient
penalty in a neighbourhood of the data (the seeds' table).

    x_p = x + 0.5 std(x) u,  u ~ U[0, 1];   x_hat = alpha x + (1 - alpha) x_p
    L_D = -E log D(x) - E log(1 - D(G(z))) + lambda E (||grad D(x_hat)||_2 - 1)^2
    L_G = -E log D(G(z))

lambda = 10; no batch norm in D (a per-example penalty). Config: ``gp_lambda``.
"""
from .. import losses
from ..base import GAN

DEFAULTS = {"gp_lambda": 10.0, "batch_norm": False}


class DRAGAN(GAN):
    adversarial = "ns"

    @classmethod
    def build(cls, dataset, config):
        return super().build(dataset, {**DEFAULTS, **dict(config)})

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw) -> dict:
        gp = losses.gradient_penalty(lambda p: self.D(p)[:, :1], losses.dragan_points(x))
        return {"gp": float(self.config["gp_lambda"]) * gp}
