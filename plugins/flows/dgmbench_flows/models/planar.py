"""Planar flows (Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows").

One planar layer, f(x) = x + u_hat tanh(w^T x + b), with the invertibility constraint
u_hat = u + (m(w^T u) - w^T u) w / ||w||^2, m(a) = -1 + softplus(a) (so w^T u_hat > -1), and

    log |det df/dx| = log |1 + tanh'(w^T x + b) w^T u_hat|.

Two models:

* :class:`PlanarDensity` (plugin ``planar``), a density model. Planar flows have no closed-form
  inverse, so the flow is applied in the *normalizing* direction, to the data:
      z = f_K o ... o f_1(a(x)),   log p(x) = log N(z; 0, I) + log|det da/dx| + sum_k log|det df_k|,
  which makes ``log_prob`` exact; ``a`` is an actnorm layer (per-dimension affine, data-dependent
  init) that puts the data on the prior's scale. ``sample`` draws z ~ N(0, I) and inverts each
  layer numerically: with a = w^T x and c = w^T u_hat > -1, a + c tanh(a + b) = w^T y is a
  monotone scalar equation with the root in [w^T y - |c|, w^T y + |c|], solved by bisection then
  two Newton steps (:func:`dgmbench_flows.layers.planar_inverse`); then x = y - u_hat tanh(a + b).
  Images are flattened (and logit-transformed, as in Real NVP), but the model is meant for 2-D data.

* :class:`PlanarVAE` (plugin ``planar-vae``), the paper's use: a VAE whose posterior is
  q_0(z_0 | x) = N(mu(x), sigma(x)^2) pushed through K planar layers whose parameters (u, w, b)
  are also outputs of the inference network (amortized), so
      log q_K(z_K | x) = log q_0(z_0 | x) - sum_k log |1 + tanh'(w_k^T z_{k-1} + b_k) w_k^T u_hat_k|,
      ELBO = E_{q_0}[log p(x | z_K) + log p(z_K) - log q_K(z_K | x)],
  with a Bernoulli decoder and p(z) = N(0, I) (likelihood "discrete", for binarized MNIST).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dgmbench.model import Model
from dgmbench.specs import DatasetSpec

from ..layers import ActNorm, Chain, Flatten, FlowModel, LogitTransform, Planar, planar_forward, planar_u_hat


class PlanarDensity(FlowModel):
    """log p(x) = log N(f(x)) + log|det df/dx| with f = K planar layers after an actnorm."""

    @classmethod
    def build(cls, ds: DatasetSpec, config: dict) -> "PlanarDensity":
        cfg = {"flows": 16, "actnorm": True, "preprocess": "logit" if ds.levels is not None else "none",
               "alpha": 0.05, **(config or {})}
        shape, d = tuple(ds.shape), math.prod(ds.shape)
        layers = [LogitTransform(cfg["alpha"])] if cfg["preprocess"] == "logit" else []
        layers.append(Flatten(shape))
        if cfg["actnorm"]:
            layers.append(ActNorm((d,)))
        layers += [Planar(d) for _ in range(cfg["flows"])]
        return cls(Chain(layers), shape, "gaussian", clamp=ds.levels is not None, config=cfg, latent_shape=(d,))


# The decoder's blocks are written here (tanh MLPs as in Burda et al. 2016) rather than imported
# from dgmbench_latent, so that this distribution needs no other plugin.
def _mlp(sizes, activation=nn.Tanh):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


class _BernoulliMLP(nn.Module):
    def __init__(self, in_dim, hidden, out_dim, activation=nn.Tanh):
        super().__init__()
        sizes = (in_dim, *((hidden,) if isinstance(hidden, int) else tuple(hidden)))
        self.body = _mlp(sizes, activation)
        self.logits = nn.Linear(sizes[-1], out_dim)

    def forward(self, h):
        from torch.distributions import Bernoulli, Independent
        return Independent(Bernoulli(logits=self.logits(self.body(h)), validate_args=False), 1, validate_args=False)


class PlanarVAE(Model):
    """VAE with a K-layer planar-flow posterior (amortized flow parameters), Bernoulli decoder."""

    likelihood = "discrete"

    def __init__(self, shape, latent: int = 40, hidden=(200, 200), flows: int = 10, config=None):
        super().__init__(config)
        self.shape, self.latent, self.flows = tuple(shape), int(latent), int(flows)
        d = math.prod(self.shape)
        hidden = (int(hidden),) if isinstance(hidden, int) else tuple(int(h) for h in hidden)
        self.encoder = _mlp((d, *hidden))
        last = hidden[-1] if hidden else d
        self.mean = nn.Linear(last, self.latent)
        self.log_std = nn.Linear(last, self.latent)
        self.flow_params = nn.Linear(last, self.flows * (2 * self.latent + 1))  # (u, w, b) per layer
        self.decoder = _BernoulliMLP(self.latent, tuple(reversed(hidden)), d)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @classmethod
    def build(cls, ds: DatasetSpec, config: dict) -> "PlanarVAE":
        cfg = {"latent": 40, "hidden": [200, 200], "flows": 10, **(config or {})}
        if ds.levels != 2:
            raise ValueError(f"planar-vae has a Bernoulli decoder: it needs binary data (levels=2), "
                             f"and {ds.name} has levels={ds.levels}")
        return cls(ds.shape, cfg["latent"], cfg["hidden"], cfg["flows"], cfg)

    def posterior(self, x):
        """q_0's (mean, std) and the flow parameters u, w: (B, K, d), b: (B, K, 1)."""
        h = self.encoder(x.flatten(1))
        p = self.flow_params(h).view(len(x), self.flows, 2 * self.latent + 1)
        u, w, b = p.split([self.latent, self.latent, 1], dim=-1)
        return self.mean(h), self.log_std(h).exp(), planar_u_hat(u, w), w, b

    def flow(self, z, u_hat, w, b):
        """z_K and sum_k log|det| for z (..., B, d) and per-example parameters (B, K, .)."""
        logdet = 0.0
        for k in range(self.flows):
            z, ld = planar_forward(z, u_hat[:, k], w[:, k], b[:, k])
            logdet = logdet + ld
        return z, logdet

    def log_importance_weights(self, x, k):
        mean, std, u_hat, w, b = self.posterior(x)
        eps = torch.randn(k, *mean.shape, device=mean.device, dtype=mean.dtype)
        z0 = mean + std * eps
        log_q0 = (-0.5 * eps * eps - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
        zk, logdet = self.flow(z0, u_hat, w, b)
        log_pz = (-0.5 * zk * zk - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_px = self.decoder(zk).log_prob(x.flatten(1))
        return log_px + log_pz - (log_q0 - logdet)

    def elbo(self, x):
        return self.log_importance_weights(x, 1)[0]

    @torch.no_grad()
    def encode(self, x):
        """[f_K(mu(x))]: the flow applied to q_0's mean (q_K's mean has no closed form)."""
        mean, _, u_hat, w, b = self.posterior(x)
        return [self.flow(mean, u_hat, w, b)[0]]

    @torch.no_grad()
    def sample(self, n):
        """Decoder means sigmoid(logits(z)), z ~ N(0, I); Bernoulli draws with config sample_binary."""
        z = torch.randn(n, self.latent, device=self._anchor.device, dtype=self._anchor.dtype)
        probs = self.decoder(z).base_dist.probs
        if self.config.get("sample_binary", False):
            probs = torch.bernoulli(probs)
        return probs.view(n, *self.shape)
