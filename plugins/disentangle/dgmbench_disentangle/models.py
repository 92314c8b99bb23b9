"""beta-VAE and FactorVAE with disentanglement_lib's networks and a Bernoulli decoder.

Both share q(z | x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), p(x | z) = Bernoulli(logits(z)),
    recon(x) = -E_q log p(x | z)  (one reparameterized draw),  KL(x) = KL(q(z | x) || p(z)),
    ELBO = -recon - KL.

* ``betavae`` (Higgins et al. 2017):  loss = recon + beta KL  (beta = 1: the plain VAE).
  With ``capacity_max`` set, the capacity-controlled objective of Burgess et al. (2018):
      loss = recon + gamma |KL - C|,   C = capacity_max * min(1, step / capacity_steps),
  C annealed linearly from 0 (Burgess et al. on dSprites: gamma = 1000, C_max = 25 nats over
  100,000 steps). gamma = beta = 1 with C = 0 is the plain negative ELBO again.
* ``factorvae`` (Kim & Mnih 2018):  loss = recon + KL + gamma TC(z),  the total correlation
  KL(q(z) || prod_j q(z_j)) estimated by the density-ratio trick with a discriminator D trained to
  tell z ~ q(z) from z with each dimension permuted across the batch (a draw from prod_j q(z_j)):
      TC ~ E_q[log D(z) / (1 - D(z))] = E_q[logit_joint(z) - logit_product(z)].
  D has its own Adam (lr 1e-4, betas 0.5, 0.9); the VAE's Adam uses betas 0.9, 0.999. As in
  disentanglement_lib, the permuted codes come from the same batch.

Config: ``latent`` (10), ``net`` (auto | conv | mlp), ``beta``, ``gamma``, ``capacity_max``,
``capacity_steps`` (the run's step budget when the plugin knows it, else 100,000),
``disc_lr`` (1e-4), ``disc_hidden`` (1000).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dgmbench.errors import DgmbenchError
from dgmbench.model import Model

from .networks import build_networks, discriminator


class ConfigError(DgmbenchError, ValueError):
    """A config the model cannot be built with."""


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each column shuffled by its own permutation of the batch: the marginals of z stay, their
    dependence goes (a sample of prod_j q(z_j) from one of q(z); Kim & Mnih 2018, Algorithm 2)."""
    n = z.shape[0]
    idx = torch.stack([torch.randperm(n, generator=generator) for _ in range(z.shape[1])], 1).to(z.device)
    return torch.gather(z, 0, idx)


def capacity_loss(recon: torch.Tensor, kl: torch.Tensor, gamma: float, capacity: float) -> torch.Tensor:
    """Burgess et al. (2018): recon + gamma |KL - C|."""
    return recon + gamma * (kl - capacity).abs()


class DisentanglingVAE(Model):
    """The shared VAE: Locatello et al.'s networks, Bernoulli decoder, mean representation."""

    likelihood = "discrete"

    def __init__(self, shape, levels, config: dict | None = None, dataset_name: str = "this dataset"):
        super().__init__(config)
        if levels != 2:
            raise ConfigError(f"the Bernoulli decoder needs binary data (levels = 2; {dataset_name} has {levels})")
        c = self.config
        self.shape = tuple(shape)
        self.latent = int(c.get("latent", 10))
        self.encoder, self.decoder = build_networks(self.shape, self.latent, c.get("net", "auto"),
                                                    int(c.get("hidden", 1200)))
        self._recon_batch: torch.Tensor | None = None

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset.shape, dataset.levels, config, dataset_name=dataset.name)

    def posterior_params(self, x: torch.Tensor):
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent], h[:, self.latent:]
        return mu, logvar.clamp(-30.0, 20.0)

    def terms(self, x: torch.Tensor):
        """(recon, KL per dimension, z): recon = -log p(x | z) for one z ~ q(z | x)."""
        mu, logvar = self.posterior_params(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").flatten(1).sum(1)
        return recon, gaussian_kl(mu, logvar), z

    # -- capabilities -----------------------------------------------------------------------------
    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        recon, kl, _ = self.terms(x)
        return -recon - kl.sum(1)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        z = torch.randn(n, self.latent, device=next(self.parameters()).device)
        return self.decode(z)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.posterior_params(x)[0]]

    # -- what traversals and the reconstruction metric use ----------------------------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | z)."""
        return torch.sigmoid(self.decoder(z))

    def posterior(self, x: torch.Tensor) -> torch.distributions.Distribution:
        mu, logvar = self.posterior_params(x)
        return torch.distributions.Independent(torch.distributions.Normal(mu, (0.5 * logvar).exp()), 1)

    def prior(self) -> torch.distributions.Distribution:
        zero = torch.zeros(self.latent, device=next(self.parameters()).device)
        return torch.distributions.Independent(torch.distributions.Normal(zero, torch.ones_like(zero)), 1)

    def _remember(self, x):
        if self._recon_batch is None:
            self._recon_batch = x[:16].detach().clone()


class BetaVAE(DisentanglingVAE):
    """beta-VAE, or its capacity-controlled form when ``capacity_max`` is set."""

    def __init__(self, shape, levels, config=None, dataset_name="this dataset"):
        super().__init__(shape, levels, config, dataset_name)
        c = self.config
        self.beta = float(c.get("beta", 1.0))
        self.gamma = float(c.get("gamma", 1000.0))
        self.capacity_max = None if c.get("capacity_max") is None else float(c["capacity_max"])
        self.capacity_steps = int(c.get("capacity_steps", 100_000))

    def capacity(self, step: int) -> float:
        return self.capacity_max * min(1.0, step / max(self.capacity_steps, 1))

    def objective(self, x: torch.Tensor, step: int = 0):
        """(loss, logs) for one batch."""
        recon, kl, _ = self.terms(x)
        recon, kl = recon.mean(), kl.sum(1).mean()
        if self.capacity_max is None:
            return recon + self.beta * kl, {"recon": recon.detach(), "kl": kl.detach()}
        c = self.capacity(step)
        return capacity_loss(recon, kl, self.gamma, c), {"recon": recon.detach(), "kl": kl.detach(),
                                                          "capacity": torch.tensor(c)}

    def configure_optimizers(self, lr: float):
        return [torch.optim.Adam(self.parameters(), lr=lr, betas=(0.9, 0.999))]

    def train_step(self, x, y, optimizers, step, autocast):
        (opt,) = optimizers
        self._remember(x)
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss, logs = self.objective(x, step)
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), **logs}


class FactorVAE(DisentanglingVAE):
    """FactorVAE: the ELBO plus gamma times the discriminator's estimate of the total correlation."""

    def __init__(self, shape, levels, config=None, dataset_name="this dataset"):
        super().__init__(shape, levels, config, dataset_name)
        self.gamma = float(self.config.get("gamma", 10.0))
        self.disc_lr = float(self.config.get("disc_lr", 1e-4))
        self.discriminator = discriminator(self.latent, int(self.config.get("disc_hidden", 1000)))

    def vae_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]

    def configure_optimizers(self, lr: float):
        return [torch.optim.Adam(self.vae_parameters(), lr=lr, betas=(0.9, 0.999)),
                torch.optim.Adam(self.discriminator.parameters(), lr=self.disc_lr, betas=(0.5, 0.9))]

    def train_step(self, x, y, optimizers, step, autocast):
        vae_opt, disc_opt = optimizers
        self._remember(x)
        with autocast():
            recon, kl, z = self.terms(x)
            logits = self.discriminator(z)
            tc = (logits[:, 0] - logits[:, 1]).mean()
            recon, kl = recon.mean(), kl.sum(1).mean()
            loss = recon + kl + self.gamma * tc
        vae_opt.zero_grad(set_to_none=True)
        loss.backward()
        vae_opt.step()
        # the discriminator: class 0 for z ~ q(z), class 1 for the permuted codes
        z = z.detach()
        with autocast():
            both = self.discriminator(torch.cat([z, permute_dims(z)]))
            target = torch.cat([torch.zeros(len(z)), torch.ones(len(z))]).long().to(z.device)
            d_loss = F.cross_entropy(both.float(), target)
        disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        disc_opt.step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach(), "tc": tc.detach(),
                "disc_loss": d_loss.detach()}
