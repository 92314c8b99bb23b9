"""What every GAN of the family shares: the backbone, the alternating training step, sampling,
and the improved-GAN tricks as config options.

Training step (the seeds' algorithm, Goodfellow et al. 2014 / Arjovsky et al. 2017 Algorithm 1):
every call of :meth:`GAN.train_step` takes one real batch and makes one critic (D) update; every
``n_critic``-th call also makes one generator update. A budget step is therefore one real batch =
one D update, and a model with n_critic = 5 makes 1/5 as many G updates per step. The counters
``d_updates`` / ``g_updates`` (and every running statistic) are buffers, so they are in the
checkpoint and a resumed run continues exactly; the step reads a host-side copy of ``d_updates``
(taken once, and again after a checkpoint is loaded) so that deciding on a G update never waits
for the GPU.

Data: images in [0, 1] are mapped to [-1, 1] (G's tanh range) inside the model; 2-D data is used
as it is. :meth:`GAN.sample` returns data-space values.

Tricks (Salimans et al. 2016, "Improved Techniques for Training GANs"), config keys:

* ``feature_matching`` (bool): G minimizes ||E f(x) - E f(G(z))||^2 with f = D's last block,
  instead of its adversarial loss;
* ``minibatch_features`` (int > 0): minibatch discrimination before D's head;
* ``historical_averaging`` (weight w >= 0): each player adds w ||theta - (1/t) sum_i theta_i||^2;
* ``label_smoothing`` (real target, 1.0 = off): one-sided, for the cross-entropy and
  least-squares D losses;
* ``vbn`` (bool): virtual batch normalization in G;
* ``spectral_norm`` (bool, Miyato et al. 2018): on every D layer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

from . import losses
from .backbone import build_discriminator, build_generator, init_dcgan

#: config keys every GAN takes, with their defaults (the dataset-dependent ones in default_config)
COMMON = {"n_critic": 1, "optimizer": "adam", "beta1": 0.5, "beta2": 0.999, "spectral_norm": False,
          "minibatch_features": 0, "vbn": False, "feature_matching": False, "historical_averaging": 0.0,
          "label_smoothing": 1.0, "batch_norm": True}


def default_config(dataset, config: dict) -> dict:
    """The DCGAN sizes for images (z 100, width 64), small MLPs for 2-D data; ``config`` wins."""
    if len(dataset.shape) == 1:
        sizes = {"z_dim": 16, "width": 128, "layers": 3}
    else:
        sizes = {"z_dim": 100, "width": 64, "layers": 2}
    return {**COMMON, **sizes, **dict(config)}


class GAN(Model):
    """The base class. A subclass sets ``adversarial`` ("minimax" | "ns" | "ls" | "wasserstein")
    and may add terms by overriding :meth:`extra_d_loss` / :meth:`extra_g_loss`, condition the
    networks (``g_extra`` / ``d_extra`` input units, :meth:`draw`), or replace :meth:`d_loss` /
    :meth:`g_loss` altogether (the auto-encoder discriminators)."""

    likelihood = "none"
    adversarial = "ns"
    d_outputs = 1  # D's outputs: the adversarial score first, then any auxiliary head

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset, default_config(dataset, config))

    def __init__(self, dataset, config: dict):
        super().__init__(config)
        self.shape = tuple(dataset.shape)
        self.image = len(self.shape) == 3
        self.num_classes = int(dataset.num_classes or 0)
        c = self.config
        self.z_dim, self.n_critic = int(c["z_dim"]), int(c["n_critic"])
        self.G = build_generator(self.shape, self.z_dim, int(c["width"]), extra=self.g_extra(),
                                 layers=int(c["layers"]), vbn=bool(c["vbn"]))
        self.D = self.build_critic()
        if self.image:
            init_dcgan(self)
        self.register_buffer("d_updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("g_updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("last_g_loss", torch.zeros(()))
        self._d_count: int | None = None  # host copy of d_updates: no device sync per step
        self.register_load_state_dict_post_hook(lambda module, _: setattr(module, "_d_count", None))
        if float(c["historical_averaging"]) > 0:  # running means of each player's parameters
            for prefix, net in (("G", self.G), ("D", self.D)):
                for i, p in enumerate(net.parameters()):
                    self.register_buffer(f"avg_{prefix}_{i}", p.detach().clone())

    # -- networks ---------------------------------------------------------------------------
    def g_extra(self) -> int:
        """Conditioning units appended to z (labels, codes)."""
        return 0

    def d_extra(self) -> int:
        """Conditioning units appended to D's input."""
        return 0

    def build_critic(self) -> nn.Module:
        c = self.config
        return build_discriminator(self.shape, int(c["width"]), out_dim=self.d_outputs, extra=self.d_extra(),
                                   layers=int(c["layers"]), spectral_norm=bool(c["spectral_norm"]),
                                   minibatch_features=int(c["minibatch_features"]), batch_norm=bool(c["batch_norm"]))

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.image else x

    def to_data(self, g: torch.Tensor) -> torch.Tensor:
        return ((g.float() + 1) / 2).clamp(0, 1) if self.image else g.float()

    def draw(self, n: int, y: torch.Tensor | None = None) -> dict:
        """The latent draw for n fakes: ``z`` and, for conditional models, ``g_cond`` (G's extra
        units), ``d_cond`` (D's extra units) and ``target`` (what an auxiliary head must infer)."""
        return {"z": torch.randn(n, self.z_dim, device=self.d_updates.device)}

    def generate(self, draw: dict) -> torch.Tensor:
        z = draw["z"] if "g_cond" not in draw else torch.cat([draw["z"], draw["g_cond"]], 1)
        return self.G(z)

    # -- capabilities ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.to_data(self.generate(self.draw(n)))

    # -- losses ---------------------------------------------------------------------------------
    def adversarial_d(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        t = float(self.config["label_smoothing"])
        if self.adversarial in ("minimax", "ns"):
            return losses.bce_d(d_real, d_fake, t)
        if self.adversarial == "ls":
            return losses.ls_d(d_real, d_fake, t)
        return losses.wasserstein_d(d_real, d_fake)

    def adversarial_g(self, d_fake: torch.Tensor) -> torch.Tensor:
        return {"minimax": losses.minimax_g, "ns": losses.ns_g, "ls": losses.ls_g,
                "wasserstein": losses.wasserstein_g}[self.adversarial](d_fake)

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw) -> dict:
        """Further D terms (gradient penalties, auxiliary heads), by name; summed into L_D."""
        return {}

    def extra_g_loss(self, fake, out_fake, draw) -> dict:
        return {}

    def d_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        draw = self.draw(len(x), y)
        with torch.no_grad():
            fake = self.generate(draw)
        out_real = self.D(x, self.real_condition(y)).float()
        out_fake = self.D(fake, draw.get("d_cond")).float()
        terms = {"adv_d": self.adversarial_d(out_real[:, 0], out_fake[:, 0]),
                 **self.extra_d_loss(x, fake, out_real, out_fake, y, draw)}
        return sum(terms.values()), terms

    def real_condition(self, y):
        return None

    def g_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        draw = self.draw(len(x), y)
        fake = self.generate(draw)
        if self.config["feature_matching"]:
            f_real = self.D.features(x, self.real_condition(y))[-1].flatten(1).float().mean(0).detach()
            feats = self.D.features(fake, draw.get("d_cond"))
            out_fake = self.D.head(feats[-1].flatten(1)).float()
            terms = {"feature_matching": ((f_real - feats[-1].flatten(1).float().mean(0)) ** 2).sum()}
        else:
            out_fake = self.D(fake, draw.get("d_cond")).float()
            terms = {"adv_g": self.adversarial_g(out_fake[:, 0])}
        terms.update(self.extra_g_loss(fake, out_fake, draw))
        return sum(terms.values()), terms

    def historical_penalty(self, prefix: str, net: nn.Module) -> torch.Tensor:
        """||theta - (1/t) sum_i theta_i||^2 over the player's parameters (Salimans et al. 2016)."""
        return sum(((p - getattr(self, f"avg_{prefix}_{i}")) ** 2).sum() for i, p in enumerate(net.parameters()))

    @torch.no_grad()
    def update_history(self, prefix: str, net: nn.Module, t: int) -> None:
        for i, p in enumerate(net.parameters()):
            avg = getattr(self, f"avg_{prefix}_{i}")
            avg += (p.detach() - avg) / (t + 1)

    # -- training -------------------------------------------------------------------------------
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """[D's optimizer, G's optimizer]: Adam(lr, (beta1, beta2)) or RMSProp(lr) (WGAN)."""
        c = self.config
        if c["optimizer"] == "rmsprop":
            make = lambda ps: torch.optim.RMSprop(ps, lr=lr)
        else:
            make = lambda ps: torch.optim.Adam(ps, lr=lr, betas=(float(c["beta1"]), float(c["beta2"])))
        return [make(self.D.parameters()), make(self.G.parameters())]

    def after_d_step(self) -> None:
        """Called after every critic update (WGAN clips the critic's weights here)."""

    def after_g_step(self, logs: dict) -> None:
        """Called after every generator update (BEGAN updates k_t here)."""

    def train_step(self, x, y, optimizers, step, autocast):
        opt_d, opt_g = optimizers
        x = self.to_model(x)
        ha = float(self.config["historical_averaging"])
        opt_d.zero_grad(set_to_none=True)
        with autocast():
            loss_d, terms = self.d_loss(x, y)
        if ha > 0:
            loss_d = loss_d + ha * self.historical_penalty("D", self.D)
        loss_d.backward()
        opt_d.step()
        self.after_d_step()
        if self._d_count is None:
            self._d_count = int(self.d_updates)
        self.d_updates += 1
        self._d_count += 1
        if ha > 0:
            self.update_history("D", self.D, self._d_count)
        logs = {"loss_d": loss_d.detach(), **{k: v.detach() for k, v in terms.items()}}
        if self._d_count % self.n_critic == 0:
            opt_g.zero_grad(set_to_none=True)
            with autocast():
                loss_g, g_terms = self.g_loss(x, y)
            if ha > 0:
                loss_g = loss_g + ha * self.historical_penalty("G", self.G)
            loss_g.backward()
            opt_g.step()
            self.g_updates += 1
            if ha > 0:
                self.update_history("G", self.G, self._d_count // self.n_critic)
            self.last_g_loss.copy_(loss_g.detach())
            g_logs = {k: v.detach() for k, v in g_terms.items()}
            self.after_g_step({**logs, **g_logs})
        logs["loss_g"] = self.last_g_loss.clone()  # the latest generator loss, every step
        logs.update(self.extra_logs())
        return logs

    def extra_logs(self) -> dict:
        return {}


def one_hot(labels: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(labels.long(), k).float()


def balanced_labels(n: int, k: int, device) -> torch.Tensor:
    """n labels, each of the k classes n/k times (up to one), in random order."""
    return (torch.arange(n, device=device) % k)[torch.randperm(n, device=device)]
