"""Conditional distributions parameterized by MLPs, the building blocks of VAEs.

As in Burda et al. (2016, Sec. 5): tanh hidden layers, a Gaussian layer with diagonal covariance
    N(z | mu(h), diag sigma(h)^2),  mu = W_mu MLP(h) + b_mu,  sigma = exp(W_s MLP(h) + b_s),
and a Bernoulli layer for binary data, p(x | h) = prod_d Bernoulli(x_d | sigmoid(W MLP(h) + b)_d).

Each module maps a (..., in_dim) tensor to a ``torch.distributions`` object whose event is the
last axis (``Independent``), so ``log_prob`` sums over units and leading axes broadcast:
an encoder applied to (B, D) data and sampled with ``rsample((k,))`` gives (k, B, d) codes, and
a decoder applied to those gives a (k, B) ``log_prob`` of (B, D) data.

Reusable by any plugin::

    from dgmbench_latent.networks import GaussianMLP, BernoulliMLP
    encoder = GaussianMLP(784, (200, 200), 50)     # q(z | x)
    decoder = BernoulliMLP(50, (200, 200), 784)    # p(x | z)

Also the two checks the latent models' ``build`` share: ``resolve_preset`` (a named preset's
values under the explicit config) and ``require_binary`` (a Bernoulli output needs levels = 2).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal


def resolve_preset(presets: dict, config: dict | None, defaults: dict | None = None) -> dict:
    """The preset ``config["preset"]`` names (else ``defaults["preset"]``, else ``paper``): its
    values, then ``defaults``, then the explicit ``config``. ValueError naming the choices for an
    unknown preset."""
    config, defaults = dict(config or {}), defaults or {}
    preset = config.get("preset", defaults.get("preset", "paper"))
    if preset not in presets:
        raise ValueError(f"preset must be one of {', '.join(presets)}, not {preset!r}")
    return {**presets[preset], **defaults, **config, "preset": preset}


def require_binary(ds, what: str) -> None:
    """ValueError unless the dataset ``ds`` is binary (levels = 2): ``what`` is Bernoulli."""
    if ds.levels != 2:
        raise ValueError(f"{what} is Bernoulli: it needs binary data (levels = 2; {ds.name} has {ds.levels})")


def hidden_sizes(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """``200`` -> (200,); ``(200, 200)`` -> (200, 200); ``()`` -> no hidden layer."""
    return (int(hidden),) if isinstance(hidden, int) else tuple(int(h) for h in hidden)


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear + activation for each consecutive pair of ``sizes`` (identity for one size)."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


class GaussianMLP(nn.Module):
    """h -> N(mu(h), diag sigma(h)^2) over ``out_dim`` units (the reparameterizable layer)."""

    def __init__(self, in_dim: int, hidden: int | Sequence[int], out_dim: int,
                 activation: type[nn.Module] = nn.Tanh):
        super().__init__()
        sizes = (in_dim, *hidden_sizes(hidden))
        self.body = mlp(sizes, activation)
        self.mean = nn.Linear(sizes[-1], out_dim)
        self.log_std = nn.Linear(sizes[-1], out_dim)
        self.in_dim, self.out_dim = in_dim, out_dim

    def params(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, standard deviation), each (..., out_dim)."""
        f = self.body(h)
        return self.mean(f), self.log_std(f).exp()

    def forward(self, h: torch.Tensor) -> Independent:
        mean, std = self.params(h)
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)


class BernoulliMLP(nn.Module):
    """h -> prod_d Bernoulli(sigmoid(logits(h))_d) over ``out_dim`` binary units."""

    def __init__(self, in_dim: int, hidden: int | Sequence[int], out_dim: int,
                 activation: type[nn.Module] = nn.Tanh):
        super().__init__()
        sizes = (in_dim, *hidden_sizes(hidden))
        self.body = mlp(sizes, activation)
        self.logits = nn.Linear(sizes[-1], out_dim)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, h: torch.Tensor) -> Independent:
        return Independent(Bernoulli(logits=self.logits(self.body(h)), validate_args=False), 1,
                           validate_args=False)
