"""What both diffusion models share: the data scale, the bound's terms, the bound as ``elbo``,
and ancestral sampling. A subclass defines the reverse step p(x_{t-1} | x_t) (:meth:`reverse`), the
decoder term log p(x_0 | x_1) (:meth:`decoder_log_prob`) and its training loss.

Data: images x in [0, 1] are modelled on [-1, 1] (x' = 2x - 1). A discrete model (DDPM) scores the
levels themselves; a continuous one (deep diffusion) is a density on [-1, 1]^D, so its density on
[0, 1]^D adds D log 2 (the change of variables).

The bound. ``elbo(x)`` = -(L_T + sum_{t=2}^T L_{t-1} + L_0) per example (``process.py``), a lower
bound on log p(x): the harness's nll metric reports it flagged ``nll_is_bound = 1``. Each KL term is
in closed form; its expectation over x_t ~ q(x_t | x_0) is a single draw per t (an unbiased
estimate, as in Ho et al.'s evaluation). ``bound_timesteps`` = 0 (default) evaluates all T terms
(T network passes per image); n > 0 draws n of the t in {2..T} uniformly and scales their mean by
T - 1 (an unbiased estimate of the same bound, for cheaper evaluation; stated in the config).
"""
from __future__ import annotations

import math

import torch

from dgmbench.model import Model

from .process import GaussianDiffusion, linear_betas, normal_kl


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """float32 for a bf16 / fp16 network output (the harness trains under bf16 autocast on CUDA):
    the bound's terms are sums over every dimension."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def check_dataset(dataset) -> tuple[tuple[int, ...], int | None]:
    if len(dataset.shape) != 3:
        raise ValueError(f"diffusion models need images; {dataset.name!r} has shape {tuple(dataset.shape)}")
    return tuple(dataset.shape), dataset.levels


class DiffusionModel(Model):
    def __init__(self, shape, levels, config):
        super().__init__(config)
        self.shape, self.levels = tuple(shape), levels
        cfg = self.config
        self.process = GaussianDiffusion(linear_betas(int(cfg["timesteps"]), float(cfg["beta_start"]),
                                                      float(cfg["beta_end"])))

    # -- what subclasses define ------------------------------------------------------------------
    def reverse(self, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(x_{t-1} | x_t), element-wise."""
        raise NotImplementedError

    def decoder_log_prob(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """log p(x_0 | x_1) per example (the negative of L_0)."""
        raise NotImplementedError

    # -- data scale ------------------------------------------------------------------------------
    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """x in [0, 1] -> [-1, 1] (levels snapped to their grid for a discrete model)."""
        if self.likelihood == "discrete":
            L = self.levels
            x = torch.round(x * (L - 1)).clamp(0, L - 1) / (L - 1)
        return 2 * x - 1

    def log_jacobian(self) -> float:
        """D log 2 for a density on [0, 1]^D from one on [-1, 1]^D; 0 for a discrete model."""
        return math.prod(self.shape) * math.log(2) if self.likelihood == "continuous" else 0.0

    # -- the bound -------------------------------------------------------------------------------
    def kl_term(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) for one x_t ~ q(x_t | x_0), t >= 2."""
        xt = self.process.q_sample(x0, t, torch.randn_like(x0))
        q_mean, q_logvar = self.process.q_posterior(x0, xt, t)
        p_mean, p_logvar = (full_precision(v) for v in self.reverse(xt, t))
        return normal_kl(q_mean, q_logvar, p_mean, p_logvar.expand_as(p_mean)).flatten(1).sum(1)

    def decoder_term(self, x0: torch.Tensor) -> torch.Tensor:
        """L_0 = -log p(x_0 | x_1) for one x_1 ~ q(x_1 | x_0)."""
        one = torch.ones(len(x0), dtype=torch.long, device=x0.device)
        return -self.decoder_log_prob(x0, self.process.q_sample(x0, one, torch.randn_like(x0)))

    def bound_terms(self, x0: torch.Tensor, steps: torch.Tensor | None = None) -> dict:
        """The bound's terms for x0 on [-1, 1]: ``prior`` L_T (B,), ``decoder`` L_0 (B,), and
        ``kl`` (B, n): L_{t-1} at every t in 2..T (default), or at ``steps`` (B, n), each
        example's own 1-based t's."""
        B, T = len(x0), self.process.T
        if steps is None:
            steps = torch.arange(2, T + 1, device=x0.device).expand(B, T - 1)
        kl = [self.kl_term(x0, steps[:, k]) for k in range(steps.shape[1])]
        return {"prior": self.process.prior_kl(x0), "decoder": self.decoder_term(x0),
                "kl": torch.stack(kl, dim=1) if kl else x0.new_zeros(B, 0)}

    def negative_bound(self, x0: torch.Tensor, n: int = 0) -> torch.Tensor:
        """L = L_T + sum_t L_{t-1} + L_0 per example: all T - 1 KL terms, or (n > 0) n terms at
        t drawn uniformly from 2..T per example, their mean scaled by T - 1."""
        T = self.process.T
        sampled = 0 < n < T - 1
        steps = torch.randint(2, T + 1, (len(x0), n), device=x0.device) if sampled else None
        terms = self.bound_terms(x0, steps)
        kl = terms["kl"].mean(1) * (T - 1) if sampled else terms["kl"].sum(1)
        return terms["prior"] + kl + terms["decoder"]

    def elbo(self, x):
        return -self.negative_bound(self.to_model(x), int(self.config.get("bound_timesteps") or 0)) \
            + self.log_jacobian()

    # -- sampling --------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Ancestral sampling: x_T ~ N(0, I), x_{t-1} ~ p(x_{t-1} | x_t) down to t = 2; the image is
        the decoder's mean at t = 1 (Ho et al. Algorithm 2 shows it noiselessly), clipped to
        [-1, 1] and, for a discrete model, rounded to the levels. Returned on [0, 1]."""
        was_training = self.training
        self.eval()
        try:
            ref = next(self.parameters())
            x = torch.randn(n, *self.shape, device=ref.device, dtype=ref.dtype)
            for t in range(self.process.T, 0, -1):
                mean, logvar = self.reverse(x, torch.full((n,), t, device=x.device, dtype=torch.long))
                x = mean + (torch.exp(0.5 * logvar) * torch.randn_like(x) if t > 1 else 0)
            x = ((x.clamp(-1, 1) + 1) / 2)
            if self.likelihood == "discrete":
                x = torch.round(x * (self.levels - 1)) / (self.levels - 1)
        finally:
            self.train(was_training)
        return x
