"""BEGAN (Berthelot, Schumm & Metz 2017): an auto-encoder D with the L1 reconstruction loss
L(v) = |v - D_AE(v)| (mean per example), and a proportional controller k_t that keeps the
equilibrium E L(G(z)) = gamma E L(x):

    L_D = L(x) - k_t L(G(z))
    L_G = L(G(z))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)      (after every D update)
    M_global = L(x) + |gamma L(x) - L(G(z))|                          (the convergence measure, logged)

Config: ``gamma`` (0.5), ``lambda_k`` (0.001), ``code_dim`` (64). k_t is a buffer (checkpointed),
updated on the device in float64 (the arithmetic of Python floats, without waiting for the GPU).
"""
import torch

from .autoencoder import AutoEncoderGAN

DEFAULTS = {"gamma": 0.5, "lambda_k": 0.001, "code_dim": 64, "batch_norm": False}


def k_update(k, loss_real, loss_fake, gamma: float, lambda_k: float) -> torch.Tensor:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), in float64 (numbers or 0-d tensors)."""
    k, real, fake = (torch.as_tensor(v, dtype=torch.float64) for v in (k, loss_real, loss_fake))
    return (k + lambda_k * (gamma * real - fake)).clamp(0.0, 1.0)


def l1_loss(ae, x: torch.Tensor) -> torch.Tensor:
    rec, _ = ae(x)
    return (rec.float() - x.float()).abs().flatten(1).mean(1).mean()


class BEGAN(AutoEncoderGAN):
    @classmethod
    def build(cls, dataset, config):
        return super().build(dataset, {**DEFAULTS, **dict(config)})

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        self.register_buffer("k", torch.zeros(()))
        self.register_buffer("convergence", torch.zeros(()))

    def d_loss(self, x, y):
        with torch.no_grad():
            fake = self.generate(self.draw(len(x)))
        loss_real, loss_fake = l1_loss(self.D, x), l1_loss(self.D, fake)
        self._last = (loss_real.detach(), loss_fake.detach())
        return loss_real - self.k * loss_fake, {"l_real": loss_real, "l_fake": loss_fake}

    def g_loss(self, x, y):
        loss = l1_loss(self.D, self.generate(self.draw(len(x))))
        return loss, {"l_gen": loss}

    def after_d_step(self):
        real, fake = (v.double() for v in self._last)
        g = float(self.config["gamma"])
        self.k.copy_(k_update(self.k, real, fake, g, float(self.config["lambda_k"])))
        self.convergence.copy_(real + (g * real - fake).abs())

    def extra_logs(self):
        return {"k": self.k.clone(), "convergence": self.convergence.clone()}
