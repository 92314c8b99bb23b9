"""The GAN losses of the seeds' table, as functions of discriminator outputs (all minimized).

``d_real`` / ``d_fake`` are D's raw outputs (logits for the cross-entropy losses, D(x) = sigmoid
of them; real scores for LSGAN and the Wasserstein critic). Log-sigmoids are computed stably.

=========  ===========================================================  =================================
loss       L_D (minimized)                                              L_G (minimized)
=========  ===========================================================  =================================
minimax    -E log D(x) - E log(1 - D(G(z)))                             E log(1 - D(G(z)))   (saturating)
ns         same                                                         -E log D(G(z))       (non-saturating)
ls         E (D(x) - 1)^2 + E D(G(z))^2                                 E (D(G(z)) - 1)^2
wasserstein E D(G(z)) - E D(x)                                          -E D(G(z))
=========  ===========================================================  =================================

The seeds' table writes the value functions D maximizes (E log D(x) + E log(1 - D(G(z))));
these are their negatives. One-sided label smoothing (Salimans et al. 2016) replaces the real
target 1 by ``real_target`` (e.g. 0.9) in the cross-entropy and least-squares D losses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bce_d(d_real: torch.Tensor, d_fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-E[t log D(x) + (1 - t) log(1 - D(x))] - E log(1 - D(G(z))), t = ``real_target``."""
    real = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, real_target))
    return real + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))


def minimax_g(d_fake: torch.Tensor) -> torch.Tensor:
    """E log(1 - D(G(z))) = -softplus(logit) on average (Goodfellow et al. 2014, saturating)."""
    return -F.softplus(d_fake).mean()


def ns_g(d_fake: torch.Tensor) -> torch.Tensor:
    """-E log D(G(z)) (the non-saturating generator loss)."""
    return F.softplus(-d_fake).mean()


def ls_d(d_real: torch.Tensor, d_fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """E (D(x) - 1)^2 + E D(G(z))^2 (Mao et al. 2017, a = 0, b = c = 1)."""
    return ((d_real - real_target) ** 2).mean() + (d_fake ** 2).mean()


def ls_g(d_fake: torch.Tensor) -> torch.Tensor:
    return ((d_fake - 1) ** 2).mean()


def wasserstein_d(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """E D(G(z)) - E D(x): minus the critic's estimate of W(P_r, P_g) (Arjovsky et al. 2017)."""
    return d_fake.mean() - d_real.mean()


def wasserstein_g(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()


def gradient_penalty(critic, points: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """E (||grad_x D(x_hat)||_2 - target)^2 at ``points`` x_hat (the lambda factor is the caller's).

    WGAN-GP (Gulrajani et al. 2017, Algorithm 1): x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1];
    DRAGAN (Kodali et al. 2017): x_hat = alpha x + (1 - alpha) x_p around the data,
    x_p = x + 0.5 std(x) u, u ~ U[0, 1]. ``critic`` maps (B, ...) to (B, 1)."""
    points = points.detach().requires_grad_(True)
    # the norm in the input's precision, at least float32 (half-precision squares overflow)
    dtype = torch.promote_types(points.dtype, torch.float32)
    out = critic(points)
    (grad,) = torch.autograd.grad(out.to(dtype).sum(), points, create_graph=True)
    return ((grad.flatten(1).to(dtype).norm(dim=1) - target) ** 2).mean()


def interpolate(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """eps a + (1 - eps) b with one eps ~ U[0, 1] per example."""
    eps = torch.rand(len(a), *([1] * (a.ndim - 1)), device=a.device, dtype=a.dtype)
    return eps * a + (1 - eps) * b


def dragan_points(x: torch.Tensor) -> torch.Tensor:
    """Kodali et al.'s perturbed data: alpha x + (1 - alpha) (x + 0.5 std(x) u), u ~ U[0, 1]."""
    x_p = x + 0.5 * x.std() * torch.rand_like(x)
    return interpolate(x, x_p)


def pulling_away(s: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017): 1/(N(N-1)) sum_{i != j} cos(s_i, s_j)^2 over
    the encoder's embeddings of a generated batch."""
    n = len(s)
    s = F.normalize(s.flatten(1).float(), dim=1)
    cos2 = (s @ s.T) ** 2
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


def categorical_entropy(k: int) -> float:
    """H(c) of a uniform categorical code with k values, in nats."""
    return float(torch.log(torch.tensor(float(k))))
