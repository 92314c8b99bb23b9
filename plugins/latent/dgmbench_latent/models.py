"""VAE and IWAE with one or two stochastic layers (Burda, Grosse & Salakhutdinov 2016).

Generative model and recognition model for L stochastic layers (z_0 = x):
    p(x, z_1..z_L) = p(x | z_1) prod_{l<L} p(z_l | z_{l+1}) p(z_L),   p(z_L) = N(0, I)
    q(z_1..z_L | x) = q(z_1 | x) prod_{l<L} q(z_{l+1} | z_l)
each conditional a diagonal Gaussian (or Bernoulli for binary x) given by a tanh MLP.

Importance weights, with z^(i) ~ q(z | x) drawn by the reparameterization trick:
    log w_i = log p(x, z^(i)) - log q(z^(i) | x),    i = 1..k
    VAE  objective (k-sample ELBO):   L_k^VAE  = (1/k) sum_i log w_i
    IWAE objective (Burda eq. 8):     L_k      = log (1/k) sum_i w_i
Both lower-bound log p(x); L_1^VAE = L_1; L_k rises to log p(x) as k grows. For L = 2 the mean
of log w over z ~ q is exactly the hierarchical ELBO
    E_q[log p(x|z_1)] - E_{q(z_1|x)}[KL(q(z_2|z_1) || p(z_2))] - E_q[log q(z_1|x) - log p(z_1|z_2)].

Architectures (Sec. 5 of the paper): L = 1: x -> 200-200 tanh -> z (50) and back;
L = 2: x -> 200-200 tanh -> z_1 (100) -> 100-100 tanh -> z_2 (50), the generative side mirrored.
The L = 2 widths are those of the authors' released code (github.com/yburda/iwae, experiments.py),
which produced Table 1; the paper's text says 100-100 and 50-50 (``hidden: [[100, 100], [50, 50]]``),
which trains far more slowly (``plugins/latent/benchmarks/two_layer_widths.py`` compares them).
Training: Adam (beta = 0.9, 0.999, eps = 1e-4), learning rate lr * 10^(-i/7) for 3^i epochs,
i = 0..7 (3,280 epochs), batch 20; the schedule is applied per epoch (``lr_schedule: constant``
turns it off).

Config: ``layers`` (1 | 2), ``k`` (training samples), ``latent`` (units per stochastic layer),
``hidden`` (tanh units per layer, one list per stochastic layer), ``decoder`` (``auto``:
Bernoulli for binary data, Gaussian for real-valued data; ``gaussian`` for a diagonal Gaussian
p(x | z_1), the model then being a density on dequantized [0, 1]^D), ``sample`` (``mean``: the
decoder's mean; ``draw``: a draw from it), ``lr_schedule`` (``burda`` | ``constant``),
``encode_samples`` (Monte Carlo samples for E_q[z_2 | x]).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from dgmbench.errors import DgmbenchError, UnsupportedMetric
from dgmbench.model import Model

from .networks import BernoulliMLP, GaussianMLP, hidden_sizes

PAPER_LATENT = {1: (50,), 2: (100, 50)}
PAPER_HIDDEN = {1: ((200, 200),), 2: ((200, 200), (100, 100))}
LOG_2PI = math.log(2 * math.pi)


class ConfigError(DgmbenchError, ValueError):
    """A config the model cannot be built with (shown as one line by the command line)."""


def burda_lr_factor(epoch: int) -> float:
    """10^(-i/7) during stage i, stage i lasting 3^i epochs (i = 0..7; the last stage continues)."""
    i, end = 0, 1
    while epoch >= end and i < 7:
        i += 1
        end += 3 ** i
    return 10.0 ** (-i / 7)


def log_mean_exp(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


class LatentVariableModel(Model):
    """The shared VAE / IWAE machinery; subclasses set :attr:`objective`."""

    likelihood = "discrete"
    objective = "elbo"  # or "iwae"

    def __init__(self, shape: Sequence[int], levels: int | None, config: dict | None = None,
                 dataset_name: str = "this dataset"):
        super().__init__(config)
        c = self.config
        self.shape = tuple(shape)
        self.dim = math.prod(self.shape)
        n_layers = int(c.get("layers", 1))
        if n_layers not in PAPER_LATENT:
            raise ConfigError(f"layers must be 1 or 2, not {n_layers}")
        latent = c.get("latent", PAPER_LATENT[n_layers])
        latent = [int(latent)] if isinstance(latent, int) else [int(u) for u in latent]
        hidden = [hidden_sizes(h) for h in c.get("hidden", PAPER_HIDDEN[n_layers])]
        if len(latent) != n_layers or len(hidden) != n_layers:
            raise ConfigError(f"layers = {n_layers} needs {n_layers} entries in latent and hidden, "
                              f"got {latent}, {hidden}")
        self.k = int(c.get("k", 1))
        self.latent = latent
        decoder = c.get("decoder", "auto")
        if decoder == "auto":
            decoder = "bernoulli" if levels == 2 else "gaussian" if levels is None else None
            if decoder is None:
                raise ConfigError(f"the Bernoulli decoder needs binary data (levels = 2; {dataset_name} has {levels} "
                                  "levels): use a binarized dataset (--dataset mnist-binary) or a Gaussian decoder "
                                  "(--config decoder=gaussian)")
        if decoder == "bernoulli" and levels != 2:
            raise ConfigError(f"decoder=bernoulli needs binary data (levels = 2; {dataset_name} has {levels} levels)")
        if decoder not in ("bernoulli", "gaussian"):
            raise ConfigError(f"decoder must be auto, bernoulli or gaussian, not {decoder!r}")
        self.decoder = decoder
        self.likelihood = "discrete" if decoder == "bernoulli" else "continuous"
        self.sample_mode = c.get("sample", "mean" if decoder == "bernoulli" else "draw")
        self.lr_schedule = c.get("lr_schedule", "burda")
        self.encode_samples = int(c.get("encode_samples", 32))

        dims = [self.dim, *latent]
        # q(z_{l+1} | z_l), l = 0..L-1 (z_0 = x)
        self.q = nn.ModuleList(GaussianMLP(dims[l], hidden[l], dims[l + 1]) for l in range(n_layers))
        # p(z_l | z_{l+1}) for l = 1..L-1, hidden layers mirrored
        self.p_z = nn.ModuleList(GaussianMLP(dims[l + 1], hidden[l][::-1], dims[l]) for l in range(1, n_layers))
        out = BernoulliMLP if decoder == "bernoulli" else GaussianMLP
        self.p_x = out(dims[1], hidden[0][::-1], self.dim)
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))
        self.base_lr: float | None = None
        self._recon_batch: torch.Tensor | None = None

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset.shape, dataset.levels, config, dataset_name=dataset.name)

    @property
    def layers(self) -> int:
        return len(self.q)

    # -- the bound --------------------------------------------------------------------------------
    def log_importance_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z) - log q(z | x) for k draws z ~ q(z | x) per example: shape (k, batch)."""
        x = x.flatten(1)
        h, zs, log_w = x, [], 0.0
        for l, layer in enumerate(self.q):
            q = layer(h)
            z = q.rsample((k,)) if l == 0 else q.rsample()
            log_w = log_w - q.log_prob(z)
            zs.append(z)
            h = z
        log_w = log_w + standard_normal_log_prob(zs[-1])
        for l, layer in enumerate(self.p_z):
            log_w = log_w + layer(zs[l + 1]).log_prob(zs[l])
        return log_w + self.p_x(zs[0]).log_prob(x)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """A one-sample estimate of the ELBO, log w for z ~ q(z | x) (= the k = 1 bound)."""
        return self.log_importance_weights(x, 1)[0]

    def bound(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The training objective per example: the k-sample ELBO (VAE) or IWAE bound."""
        log_w = self.log_importance_weights(x, k or self.k)
        return log_mean_exp(log_w, 0) if self.objective == "iwae" else log_w.mean(0)

    # -- generation and inference ---------------------------------------------------------------
    def _data_mean(self, dist) -> torch.Tensor:
        return dist.base_dist.probs if self.decoder == "bernoulli" else dist.base_dist.loc

    @torch.no_grad()
    def decode(self, z_top: torch.Tensor, draw: bool = False) -> torch.Tensor:
        """Data (mean of p(x | z_1), or a draw) for top-layer codes, passing down by the means."""
        z = z_top
        for layer in reversed(self.p_z):
            d = layer(z)
            z = d.sample() if draw else d.base_dist.loc
        dist = self.p_x(z)
        x = dist.sample() if draw else self._data_mean(dist)
        return x.view(len(z_top), *self.shape)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """z_L ~ N(0, I), z_l ~ p(z_l | z_{l+1}), then the mean of p(x | z_1) (``sample: mean``)
        or a draw from it (``sample: draw``)."""
        z = torch.randn(n, self.latent[-1], device=self.epochs_done.device)
        for layer in reversed(self.p_z):
            z = layer(z).sample()
        dist = self.p_x(z)
        x = dist.sample() if self.sample_mode == "draw" else self._data_mean(dist)
        return x.view(n, *self.shape)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """E_q[z_l | x] per stochastic layer: mu_1(x) exactly; for l > 1 the mean over
        ``encode_samples`` draws z_{l-1} ~ q(z_{l-1} | x) of mu_l(z_{l-1})."""
        mean, _ = self.q[0].params(x.flatten(1))
        means = [mean]
        if self.layers > 1:
            z = self.q[0](x.flatten(1)).sample((self.encode_samples,))
            for layer in self.q[1:]:
                mu, _ = layer.params(z)
                means.append(mu.mean(0))
                z = layer(z).sample()
        return means

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | z_1) at z_1 = E_q[z_1 | x]."""
        mean, _ = self.q[0].params(x.flatten(1))
        return self._data_mean(self.p_x(mean)).view_as(x)

    # optional methods of the elbo_surgery metric (first stochastic layer, with its own prior)
    def _single_layer(self):
        if self.layers != 1:
            raise UnsupportedMetric("elbo_surgery needs p(z_1) in closed form: only the one-stochastic-layer "
                                    "model has it (p(z_1) = N(0, I)); this model has two layers")

    def posterior(self, x: torch.Tensor) -> torch.distributions.Distribution:
        """q(z_1 | x), batch shape (B,), event shape (latent,)."""
        self._single_layer()
        return self.q[0](x.flatten(1))

    def prior(self) -> torch.distributions.Distribution:
        """p(z_1) = N(0, I)."""
        self._single_layer()
        zero = torch.zeros(self.latent[0], device=self.epochs_done.device)
        return torch.distributions.Independent(torch.distributions.Normal(zero, torch.ones_like(zero)), 1)

    # -- training ---------------------------------------------------------------------------------
    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        self.base_lr = lr
        return [torch.optim.Adam(self.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-4)]

    def set_epoch(self, epoch: int) -> None:
        """Called after every epoch (by the plugin's ``dgmbench_epoch_end`` hook): the learning
        rate of the next steps follows the schedule."""
        self.epochs_done.fill_(int(epoch))

    def current_lr(self) -> float | None:
        if self.base_lr is None:
            return None
        factor = burda_lr_factor(int(self.epochs_done)) if self.lr_schedule == "burda" else 1.0
        return self.base_lr * factor

    def train_step(self, x, y, optimizers, step, autocast):
        """One Adam step on -mean(bound), in float32 (these MLPs are launch-bound: bf16 would
        only add noise to the bound)."""
        (opt,) = optimizers
        lr = self.current_lr()
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr
        if self._recon_batch is None:
            self._recon_batch = x[:32].detach().clone()
        opt.zero_grad(set_to_none=True)
        loss = -self.bound(x).mean()
        loss.backward()
        opt.step()
        logs = {"loss": loss.detach()}
        if lr is not None:
            logs["lr"] = lr
        return logs

    # -- artifacts ------------------------------------------------------------------------------------
    @torch.no_grad()
    def save_artifacts(self, out_dir: Path) -> list[Path]:
        """reconstructions.png (a training batch, inputs above reconstructions) and, for a 2-D top
        layer, latent_grid.png (the decoder's mean over a 16 x 16 grid of prior quantiles)."""
        from torchvision.utils import save_image

        if len(self.shape) != 3:
            return []
        written = []
        was_training = self.training
        self.eval()
        if self._recon_batch is not None:
            x = self._recon_batch[:16]
            pair = torch.cat([x, self.reconstruct(x)]).float().cpu().clamp(0, 1)
            save_image(pair, out_dir / "reconstructions.png", nrow=len(x), padding=1)
            written.append(out_dir / "reconstructions.png")
        if self.latent[-1] == 2:
            q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.03, 0.97, 16))
            grid = torch.stack(torch.meshgrid(q, q.flip(0), indexing="xy"), -1).reshape(-1, 2)
            images = self.decode(grid.to(self.epochs_done.device)).float().cpu().clamp(0, 1)
            save_image(images, out_dir / "latent_grid.png", nrow=16, padding=1)
            written.append(out_dir / "latent_grid.png")
        self.train(was_training)
        return written


class VAE(LatentVariableModel):
    """Trained on the k-sample ELBO, (1/k) sum_i log w_i (Kingma & Welling 2014)."""

    objective = "elbo"


class IWAE(LatentVariableModel):
    """Trained on the importance-weighted bound, log (1/k) sum_i w_i (Burda et al. 2016)."""

    objective = "iwae"
