"""Discrete VAE (Rolfe 2016, "Discrete Variational Autoencoders"), a small faithful version.

Generative model: binary latents z in {0, 1}^n under a bipartite RBM prior, z = (z_a, z_b),
    p(z) = exp(-E(z)) / Z,   E(z) = -(a^T z_a + b^T z_b + z_a^T W z_b),
continuous smoothing variables zeta in [0, 1]^n with the spike-and-exponential r(zeta | z):
    r(zeta_i | z_i = 0) = delta(zeta_i),   r(zeta_i | z_i = 1) = beta e^{beta zeta_i} / (e^beta - 1),
and p(x | zeta) a Bernoulli MLP decoder: p(x, zeta, z) = p(z) r(zeta | z) p(x | zeta).

Approximate posterior (Sec. 2): q(z, zeta | x) = q(z | x) r(zeta | z) with factorial
q(z_i = 1 | x) = q_i(x). Its marginal in zeta has the inverse CDF (eq. 6, spike at 0)
    zeta_i = 0                                                     if rho < 1 - q_i
    zeta_i = (1 / beta) log(1 + (e^beta - 1)(rho - 1 + q_i) / q_i)  otherwise,   rho ~ U(0, 1),
which is differentiable in q_i: the reparameterization that lets gradients reach the discrete
posterior. Objective (the ELBO; r cancels between p and q):
    L = E_{q(zeta|x)}[log p(x | zeta)] - KL(q(z | x) || p(z)),
    KL = sum_i [q_i log q_i + (1 - q_i) log(1 - q_i)] + E_q[E(z)] + log Z,
with E_q[E(z)] = -(a^T q_a + b^T q_b + q_a^T W q_b) exact for a factorial q. The gradient of
log Z, E_p[-dE/dtheta], comes from persistent Gibbs chains (persistent contrastive divergence,
Tieleman 2008), as in the paper.

Evaluation: log w = log p(x | zeta) - E(z) - log Z - log q(z | x) with z ~ q(z | x),
zeta ~ r(zeta | z): importance weights of p(x) = sum_z p(z) int r(zeta | z) p(x | zeta); the ``nll``
metric's k-sample estimate. log Z is computed once per set of RBM parameters:
  * exactly, when the smaller side has at most ``exact_logz_units`` (16) units, summing z_b out
    in closed form, log Z = logsumexp_{z_a} [a^T z_a + sum_j softplus(b_j + (W^T z_a)_j)];
  * otherwise by annealed importance sampling (Salakhutdinov & Murray 2008) over the z_a
    marginal, from beta_0 = 0 (uniform, Z_0 = 2^n) to 1 in ``ais_steps`` linear steps with
    ``ais_chains`` chains and one Gibbs sweep per step: an unbiased estimate of Z, so the
    NLL is an estimate, not a bound.

What is NOT built: Rolfe's hierarchical approximate posterior over z (here factorial), the
additional layers of continuous latents and the convolutional/ResNet networks of the paper's
MNIST model. Presets: ``paper`` (an RBM of 2 x 64 units, decoder/encoder 2 x 200 tanh units,
beta 5: this suite's choices, not the paper's exact sizes) and ``small`` (2 x 8 units, 64 hidden).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

from .networks import BernoulliMLP, mlp, require_binary, resolve_preset

PRESETS = {"paper": {"rbm_units": 64, "hidden": [200, 200], "beta": 5.0, "chains": 100, "gibbs_steps": 1},
           "small": {"rbm_units": 8, "hidden": [64], "beta": 5.0, "chains": 32, "gibbs_steps": 1}}


class RBM(nn.Module):
    """A bipartite RBM over (z_a, z_b), each side ``units`` binary units."""

    def __init__(self, units: int):
        super().__init__()
        self.units = int(units)
        self.a = nn.Parameter(torch.zeros(units))
        self.b = nn.Parameter(torch.zeros(units))
        self.W = nn.Parameter(0.01 * torch.randn(units, units))

    def energy(self, z):
        za, zb = z[..., :self.units], z[..., self.units:]
        return -(za @ self.a + zb @ self.b + ((za @ self.W) * zb).sum(-1))

    def gibbs(self, za, temperature: float = 1.0):
        """One block Gibbs sweep at inverse temperature ``temperature``: z_b | z_a, then z_a | z_b."""
        zb = torch.bernoulli(torch.sigmoid(temperature * (self.b + za @ self.W)))
        za = torch.bernoulli(torch.sigmoid(temperature * (self.a + zb @ self.W.T)))
        return za, zb

    def log_marginal_a(self, za, temperature: float = 1.0):
        """log sum_{z_b} exp(-temperature E(z_a, z_b)) = t a^T z_a + sum_j softplus(t (b + W^T z_a)_j)."""
        return temperature * (za @ self.a) + F.softplus(temperature * (self.b + za @ self.W)).sum(-1)

    @torch.no_grad()
    def log_z_exact(self):
        """Enumerate z_a (2^units states), z_b summed out in closed form."""
        n = self.units
        states = ((torch.arange(2 ** n, device=self.a.device)[:, None] >> torch.arange(n, device=self.a.device)) & 1)
        return torch.logsumexp(self.log_marginal_a(states.to(self.a.dtype)).double(), 0).item()

    @torch.no_grad()
    def log_z_ais(self, steps: int = 1000, chains: int = 100, generator=None):
        """Annealed importance sampling on the z_a marginal, from t = 0 (Z_0 = 2^(2 units)) to t = 1."""
        temps = torch.linspace(0, 1, steps + 1, dtype=torch.float64).tolist()
        za = torch.bernoulli(torch.full((chains, self.units), 0.5, device=self.a.device), generator=generator)
        log_w = torch.zeros(chains, dtype=torch.float64, device=self.a.device)
        for t_prev, t in zip(temps[:-1], temps[1:]):
            log_w += (self.log_marginal_a(za, t) - self.log_marginal_a(za, t_prev)).double()
            za, _ = self.gibbs(za, t)
        return (2 * self.units * math.log(2) + torch.logsumexp(log_w, 0) - math.log(chains)).item()


class DiscreteVAE(Model):
    likelihood = "discrete"

    def __init__(self, shape, config: dict):
        super().__init__(config)
        c = self.config
        self.shape = tuple(shape)
        d = math.prod(self.shape)
        self.n = 2 * int(c["rbm_units"])
        self.beta = float(c["beta"])
        hidden = [int(h) for h in c["hidden"]]
        self.encoder = nn.Sequential(mlp((d, *hidden)), nn.Linear(hidden[-1] if hidden else d, self.n))
        self.decoder = BernoulliMLP(self.n, hidden[::-1], d)
        self.rbm = RBM(c["rbm_units"])
        self.register_buffer("chains", torch.bernoulli(torch.full((int(c["chains"]), self.rbm.units), 0.5)))
        self._log_z: tuple | None = None

    @classmethod
    def build(cls, ds, config):
        config = resolve_preset(PRESETS, config)
        require_binary(ds, "the discrete VAE's decoder")
        return cls(ds.shape, config)

    # -- smoothing ------------------------------------------------------------------------------
    def smooth(self, q, rho):
        """zeta = F^{-1}_{q(zeta|x)}(rho) for the spike-and-exponential mixture (differentiable in q)."""
        q = q.clamp(1e-6, 1 - 1e-6)
        t = ((rho - 1 + q) / q).clamp_min(0)
        return torch.where(rho < 1 - q, torch.zeros_like(q), torch.log1p(torch.expm1(torch.tensor(self.beta)) * t)
                           / self.beta)

    def sample_zeta_given_z(self, z):
        """zeta ~ r(zeta | z): 0 where z = 0, an exponential draw on [0, 1] where z = 1."""
        u = torch.rand_like(z)
        return z * torch.log1p(torch.expm1(torch.tensor(self.beta)) * u) / self.beta

    # -- the log partition function ---------------------------------------------------------------
    def log_z(self) -> float:
        key = tuple(p._version for p in self.rbm.parameters()) + tuple(p.data_ptr() for p in self.rbm.parameters())
        if self._log_z is None or self._log_z[0] != key:
            c = self.config
            if self.rbm.units <= int(c.get("exact_logz_units", 16)):
                value = self.rbm.log_z_exact()
            else:
                value = self.rbm.log_z_ais(int(c.get("ais_steps", 1000)), int(c.get("ais_chains", 100)))
            self._log_z = (key, value)
        return self._log_z[1]

    # -- the bound --------------------------------------------------------------------------------
    def q_probs(self, x):
        return torch.sigmoid(self.encoder(x.flatten(1)))

    def log_importance_weights(self, x, k):
        q = self.q_probs(x).clamp(1e-6, 1 - 1e-6)
        z = torch.bernoulli(q.expand(k, *q.shape))
        zeta = self.sample_zeta_given_z(z)
        log_q = (z * q.log() + (1 - z) * (1 - q).log()).sum(-1)
        log_px = self.decoder(zeta).log_prob(x.flatten(1))
        return log_px - self.rbm.energy(z) - self.log_z() - log_q

    def elbo_terms(self, x, log_z):
        """(E_q log p(x | zeta) by one draw, KL(q(z|x) || p(z)) with the given log Z)."""
        q = self.q_probs(x).clamp(1e-6, 1 - 1e-6)
        zeta = self.smooth(q, torch.rand_like(q))
        rec = self.decoder(zeta).log_prob(x.flatten(1))
        neg_entropy = (q * q.log() + (1 - q) * (1 - q).log()).sum(-1)
        return rec, neg_entropy + self.rbm.energy(q) + log_z

    def elbo(self, x):
        rec, kl = self.elbo_terms(x, self.log_z())
        return rec - kl

    def loss(self, x, y=None):
        """-ELBO with log Z replaced by a surrogate whose gradient is E_p[-dE/dtheta] (the
        persistent chains' samples, advanced ``gibbs_steps`` sweeps per step)."""
        with torch.no_grad():
            za = self.chains
            for _ in range(int(self.config.get("gibbs_steps", 1))):
                za, zb = self.rbm.gibbs(za)
            self.chains.copy_(za)
        log_z_surrogate = -self.rbm.energy(torch.cat([za, zb], -1)).mean()
        rec, kl = self.elbo_terms(x, log_z_surrogate)
        return -(rec - kl).mean()

    # -- generation and inference -------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n):
        """z from a Gibbs chain of the RBM (200 sweeps from the persistent states), zeta ~ r(zeta|z),
        the decoder's mean."""
        idx = torch.randint(len(self.chains), (n,), device=self.chains.device)
        za = self.chains[idx]
        for _ in range(200):
            za, zb = self.rbm.gibbs(za)
        zeta = self.sample_zeta_given_z(torch.cat([za, zb], -1))
        return self.decoder(zeta).base_dist.probs.view(n, *self.shape)

    @torch.no_grad()
    def encode(self, x):
        """[q(z = 1 | x)], the posterior means of the binary latents."""
        return [self.q_probs(x)]
