"""Invertible layers, coupling networks, priors and the flow-density model shared by the flow plugins.

Convention (the "normalizing" direction of the lecture notes): a layer maps data to noise,
``forward(x) -> (z, logdet)`` with ``logdet = log |det dz/dx|`` per example (shape (B,)), and
``inverse(z) -> x``. A chain ``z = f_K o ... o f_1(x)`` gives

    log p(x) = log p_Z(f(x)) + sum_k log |det d f_k / d f_{k-1}|.

Shapes are those of one example: (C, H, W) for images, (D,) for vectors. Every layer works on
both unless it says otherwise.
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dgmbench.model import Model

LOG_2PI = math.log(2 * math.pi)


def sum_except_batch(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).sum(1)


# -- the flow interface ---------------------------------------------------------------------------

class Flow(nn.Module):
    """An invertible map x -> z with its log-determinant."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Chain(Flow):
    """f = f_K o ... o f_1; log|det| adds up."""

    def __init__(self, layers: Sequence[Flow]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z):
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


# -- fixed (parameter-free) transforms ------------------------------------------------------------

class LogitTransform(Flow):
    """Real NVP's preprocessing (Dinh et al. 2017, Sec. 4.1) of y in [0, 1]:

        x = alpha + (1 - 2 alpha) y,   z = logit(x) = log x - log(1 - x),
        log |dz/dy| = sum_i [log(1 - 2 alpha) - log x_i - log(1 - x_i)],

    so a density on z becomes a density on y (alpha = 0.05 in the paper). It integrates to 1 over
    (-a, 1 + a)^D with a = alpha / (1 - 2 alpha), so its mass on [0, 1]^D is slightly below 1 and the
    NLL of dequantized data stays an upper bound."""

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, y):
        x = self.alpha + (1 - 2 * self.alpha) * y
        log_x, log_1mx = torch.log(x), torch.log1p(-x)
        return log_x - log_1mx, sum_except_batch(math.log(1 - 2 * self.alpha) - log_x - log_1mx)

    def inverse(self, z):
        return (torch.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)


class Shift(Flow):
    """z = y + c (Glow's y - 1/2); volume preserving."""

    def __init__(self, shift: float = -0.5):
        super().__init__()
        self.shift = float(shift)

    def forward(self, y):
        return y + self.shift, y.new_zeros(y.shape[0])

    def inverse(self, z):
        return z - self.shift


def squeeze2x2(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2): each 2x2 block becomes 4 channels (Dinh et al. 2017, Fig. 3)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze2x2(x: torch.Tensor) -> torch.Tensor:
    b, c4, h, w = x.shape
    x = x.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c4 // 4, 2 * h, 2 * w)


class Squeeze(Flow):
    """Space-to-channel reshuffle; a permutation, so log|det| = 0."""

    def forward(self, x):
        return squeeze2x2(x), x.new_zeros(x.shape[0])

    def inverse(self, z):
        return unsqueeze2x2(z)


class Unsqueeze(Flow):
    def forward(self, x):
        return unsqueeze2x2(x), x.new_zeros(x.shape[0])

    def inverse(self, z):
        return squeeze2x2(z)


class Flatten(Flow):
    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], -1), x.new_zeros(x.shape[0])

    def inverse(self, z):
        return z.reshape(z.shape[0], *self.shape)


class FactorOut(Flow):
    """Multi-scale architecture (Dinh et al. 2017, Sec. 3.6): the first half of the channels
    (or vector entries) leaves the flow here and is modelled by the prior directly; ``inner``
    goes on transforming the second half. The output keeps the input's shape, [z_out, inner(h)]."""

    def __init__(self, inner: Flow):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        out, h = x.chunk(2, dim=1)
        h, logdet = self.inner(h)
        return torch.cat([out, h], 1), logdet

    def inverse(self, z):
        out, h = z.chunk(2, dim=1)
        return torch.cat([out, self.inner.inverse(h)], 1)


# -- masks ------------------------------------------------------------------------------------------

def checkerboard_mask(shape: Sequence[int], parity: int) -> torch.Tensor:
    """b[i, j] = (i + j + parity) mod 2 over the spatial grid, broadcast over channels ((1, H, W));
    for vectors, b_i = (i + parity) mod 2 (NICE's odd/even partition)."""
    if len(shape) == 1:
        return ((torch.arange(shape[0]) + parity) % 2).float()
    h, w = shape[-2:]
    grid = torch.arange(h)[:, None] + torch.arange(w)[None, :]
    return ((grid + parity) % 2).float()[None]


def channel_mask(shape: Sequence[int], parity: int) -> torch.Tensor:
    """b = 1 on the first half of the channels (parity 0) or the second (parity 1): (C, 1, 1),
    or (D,) for vectors."""
    c = shape[0]
    b = (torch.arange(c) < c // 2).float()
    b = b if parity == 0 else 1 - b
    return b if len(shape) == 1 else b[:, None, None]


# -- coupling ---------------------------------------------------------------------------------------

class Coupling(Flow):
    """Coupling layer with a fixed binary mask b (1 = conditioning part, passed through):

        affine (Real NVP, Dinh et al. 2017, eq. 9):  z = b x + (1 - b) (x exp(s(b x)) + t(b x)),
                                                      log|det| = sum (1 - b) s(b x);
        additive (NICE, Dinh et al. 2015):            z = b x + (1 - b) (x + t(b x)),  log|det| = 0.

    ``net`` maps b x to 2C channels (s, t) for affine, C channels (t) for additive. The log-scale
    is bounded: ``scale="tanh"`` gives s = gamma tanh(h) with a learnt per-channel gamma
    (Real NVP), ``"sigmoid"`` gives exp(s) = sigmoid(h + 2) (Glow)."""

    def __init__(self, mask: torch.Tensor, net: nn.Module, kind: str = "affine", scale: str = "tanh",
                 channels: int | None = None):
        super().__init__()
        if kind not in ("affine", "additive") or scale not in ("tanh", "sigmoid"):
            raise ValueError(f"unknown coupling {kind!r} / scale {scale!r}")
        self.register_buffer("mask", mask)
        self.net, self.kind, self.scale_kind = net, kind, scale
        if kind == "affine" and scale == "tanh":
            c = channels if channels is not None else mask.shape[0]
            self.gamma = nn.Parameter(torch.ones(c, *([1] * (mask.dim() - 1))))

    def _shift_and_log_scale(self, x_cond):
        h = self.net(x_cond)
        keep = 1 - self.mask
        if self.kind == "additive":
            return h * keep, None
        raw_s, t = h.chunk(2, dim=1)
        s = self.gamma * torch.tanh(raw_s) if self.scale_kind == "tanh" else F.logsigmoid(raw_s + 2.0)
        return t * keep, s * keep

    def forward(self, x):
        x_cond = x * self.mask
        t, s = self._shift_and_log_scale(x_cond)
        if s is None:
            return x + t, x.new_zeros(x.shape[0])
        return x_cond + (1 - self.mask) * x * torch.exp(s) + t, sum_except_batch(s)

    def inverse(self, z):
        z_cond = z * self.mask
        t, s = self._shift_and_log_scale(z_cond)
        if s is None:
            return z - t
        return z_cond + (1 - self.mask) * (z - t) * torch.exp(-s)


# -- learnt element-wise and linear layers ---------------------------------------------------------

def _param_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """One value per channel (C, 1, 1) for images, per entry (D,) for vectors."""
    return (shape[0],) if len(shape) == 1 else (shape[0],) + (1,) * (len(shape) - 1)


def _per_channel_count(shape: Sequence[int]) -> int:
    return 1 if len(shape) == 1 else math.prod(shape[1:])


class DiagonalScale(Flow):
    """z = exp(s) x (+ optional shift); log|det| = sum s times the pixels per channel.
    NICE's final rescaling layer (Dinh et al. 2015, Sec. 3.3) and an element-wise affine layer."""

    def __init__(self, shape: Sequence[int], shift: bool = False):
        super().__init__()
        self.shape = tuple(shape)
        self.log_scale = nn.Parameter(torch.zeros(_param_shape(shape)))
        self.shift = nn.Parameter(torch.zeros(_param_shape(shape))) if shift else None

    def forward(self, x):
        z = x * torch.exp(self.log_scale)
        if self.shift is not None:
            z = z + self.shift
        ld = self.log_scale.sum() * _per_channel_count(self.shape)
        return z, ld.expand(x.shape[0])

    def inverse(self, z):
        if self.shift is not None:
            z = z - self.shift
        return z * torch.exp(-self.log_scale)


class ActNorm(Flow):
    """Activation normalization (Kingma & Dhariwal 2018, Sec. 3.1): z = (x - mu) exp(log_s) per
    channel, log|det| = H W sum log_s. mu and log_s start as the mean and -log std of the first
    training batch (data-dependent init, done once, only in training mode); the ``initialized``
    flag is a buffer, so a state_dict round trip restores the same map. Before the init (or in
    eval mode without one) it is the identity, so log_prob never depends on the batch."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = tuple(shape)
        self.loc = nn.Parameter(torch.zeros(_param_shape(shape)))
        self.log_scale = nn.Parameter(torch.zeros(_param_shape(shape)))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init(self, x):
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dims).reshape(self.loc.shape)
        std = x.std(dims, unbiased=False).reshape(self.loc.shape) if len(x) > 1 else torch.ones_like(mean)
        self.loc.copy_(mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x):
        if self.training and not bool(self.initialized):
            self._init(x)
        z = (x - self.loc) * torch.exp(self.log_scale)
        return z, (self.log_scale.sum() * _per_channel_count(self.shape)).expand(x.shape[0])

    def inverse(self, z):
        return z * torch.exp(-self.log_scale) + self.loc


class InvertibleLinearLU(Flow):
    """Invertible 1x1 convolution, LU-parameterized (Kingma & Dhariwal 2018, Sec. 3.2):

        W = P L (U + diag(sign(s) exp(log|s|))),   log|det| = H W sum log|s|,

    with P a fixed permutation, L unit lower triangular, U strictly upper triangular, all
    initialized from the LU decomposition of a random rotation. For vectors it is z = W x."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = tuple(shape)
        c = shape[0]
        w = torch.linalg.qr(torch.randn(c, c, dtype=torch.float64))[0]
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("lower_mask", torch.tril(torch.ones(c, c), -1))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(s.abs()).float())

    def weight(self) -> torch.Tensor:
        eye = torch.eye(self.lower.shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def _mix(self, x, w):
        if x.dim() == 2:
            return x @ w.T
        return F.conv2d(x, w[:, :, None, None])

    def forward(self, x):
        ld = self.log_s.sum() * _per_channel_count(self.shape)
        return self._mix(x, self.weight()), ld.expand(x.shape[0])

    def inverse(self, z):
        return self._mix(z, torch.linalg.inv(self.weight()))


# -- planar flow (Rezende & Mohamed 2015) -----------------------------------------------------------

def planar_u_hat(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """u_hat = u + (m(w^T u) - w^T u) w / ||w||^2 with m(a) = -1 + softplus(a), so that
    w^T u_hat = m(w^T u) > -1 and f is invertible (Rezende & Mohamed 2015, App. A.1).
    u, w: (..., D), broadcast together."""
    wu = (w * u).sum(-1, keepdim=True)
    return u + (-1 + F.softplus(wu) - wu) * w / (w * w).sum(-1, keepdim=True).clamp_min(1e-12)


def planar_forward(x, u_hat, w, b):
    """f(x) = x + u_hat tanh(w^T x + b),  log|det df/dx| = log|1 + tanh'(w^T x + b) w^T u_hat|.
    x: (..., D); u_hat, w: (..., D); b: (..., 1); all broadcast. Returns (f(x), logdet (...))."""
    a = (w * x).sum(-1, keepdim=True) + b
    h = torch.tanh(a)
    psi_dot_u = (1 - h * h) * (w * u_hat).sum(-1, keepdim=True)
    return x + u_hat * h, torch.log((1 + psi_dot_u).abs().squeeze(-1) + 1e-12)


def planar_inverse(y, u_hat, w, b, iters: int = 60):
    """Solve y = x + u_hat tanh(w^T x + b) for x. With a = w^T x and c = w^T u_hat > -1,
    a + c tanh(a + b) = w^T y is a scalar monotone equation with a in [w^T y - |c|, w^T y + |c|]:
    bisection (``iters`` halvings) then two Newton steps; x = y - u_hat tanh(a + b)."""
    wy = (w * y).sum(-1, keepdim=True)
    c = (w * u_hat).sum(-1, keepdim=True).expand_as(wy)
    lo, hi = wy - c.abs() - 1e-6, wy + c.abs() + 1e-6
    g = lambda a: a + c * torch.tanh(a + b) - wy
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = g(mid) > 0
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
    a = 0.5 * (lo + hi)
    for _ in range(2):
        th = torch.tanh(a + b)
        a = a - g(a) / (1 + c * (1 - th * th)).clamp_min(1e-12)
    return y - u_hat * torch.tanh(a + b)


class Planar(Flow):
    """One planar layer z = x + u_hat tanh(w^T x + b) on vectors (D,)."""

    def __init__(self, dim: int, init_std: float = 0.1):
        super().__init__()
        self.u = nn.Parameter(torch.randn(dim) * init_std)
        self.w = nn.Parameter(torch.randn(dim) / math.sqrt(dim))  # ||w|| ~ 1 keeps u_hat small
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return planar_forward(x, planar_u_hat(self.u, self.w), self.w, self.b)

    def inverse(self, z):
        return planar_inverse(z, planar_u_hat(self.u, self.w), self.w, self.b)


# -- coupling networks -------------------------------------------------------------------------------

def _zero_(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MLP(nn.Module):
    """x -> ReLU hidden layers -> out; the last layer starts at zero, so the coupling starts at
    the identity."""

    def __init__(self, dim_in: int, dim_out: int, hidden: int = 64, layers: int = 2):
        super().__init__()
        mods, d = [], dim_in
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.ReLU()]
            d = hidden
        mods.append(_zero_(nn.Linear(d, dim_out)))
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net(x)


def _conv(c_in, c_out, k, weight_norm):
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    return nn.utils.parametrizations.weight_norm(conv) if weight_norm else conv


class ResBlock(nn.Module):
    def __init__(self, channels: int, weight_norm: bool):
        super().__init__()
        self.conv1 = _conv(channels, channels, 3, weight_norm)
        self.conv2 = _conv(channels, channels, 3, weight_norm)

    def forward(self, h):
        return h + self.conv2(F.relu(self.conv1(F.relu(h))))


class ResNet(nn.Module):
    """Real NVP's coupling network: 3x3 conv in, ``blocks`` pre-activation residual blocks of
    ``channels`` maps, ReLU, zero-initialized 3x3 conv out. No batch statistics (optional weight
    normalization, which is data-independent), so log p(x) is exact per example."""

    def __init__(self, c_in: int, c_out: int, channels: int = 64, blocks: int = 2, weight_norm: bool = False):
        super().__init__()
        self.inp = _conv(c_in, channels, 3, weight_norm)
        self.blocks = nn.Sequential(*[ResBlock(channels, weight_norm) for _ in range(blocks)])
        self.out = _zero_(nn.Conv2d(channels, c_out, 3, padding=1))

    def forward(self, x):
        return self.out(F.relu(self.blocks(self.inp(x))))


class GlowNet(nn.Module):
    """Glow's coupling network NN(): 3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialized 3x3 conv
    whose output is scaled by exp(3 * logs) per channel (Kingma & Dhariwal 2018, Sec. 3.3).
    (Glow's inner actnorms are left out: no data-dependent init inside the networks.)"""

    def __init__(self, c_in: int, c_out: int, channels: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 1)
        self.out = _zero_(nn.Conv2d(channels, c_out, 3, padding=1))
        self.logs = nn.Parameter(torch.zeros(c_out, 1, 1))

    def forward(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.out(h) * torch.exp(3 * self.logs)


# -- priors and the density model -------------------------------------------------------------------

def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return sum_except_batch(-0.5 * (z * z + LOG_2PI))


def standard_logistic_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log p(z) = -(softplus(z) + softplus(-z)) per dimension (NICE's logistic prior)."""
    return -sum_except_batch(F.softplus(z) + F.softplus(-z))


class FlowModel(Model):
    """p(x) = p_Z(f(x)) |det df/dx| with a factorized prior p_Z (standard Gaussian or logistic).

    On image data the first layer maps [0, 1]^D to R^D (logit or shift), so ``log_prob`` is a
    density on [0, 1]^D (``likelihood = "continuous"``); ``sample`` draws z ~ p_Z and inverts the
    flow (then clamps images to [0, 1])."""

    likelihood = "continuous"

    def __init__(self, flow: Flow, shape: Sequence[int], prior: str = "gaussian", clamp: bool = True,
                 config: dict | None = None, latent_shape: Sequence[int] | None = None):
        super().__init__(config)
        if prior not in ("gaussian", "logistic"):
            raise ValueError(f"prior must be 'gaussian' or 'logistic', not {prior!r}")
        self.flow, self.shape, self.prior, self.clamp = flow, tuple(shape), prior, clamp
        self.latent_shape = tuple(latent_shape or shape)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def prior_log_prob(self, z):
        return standard_normal_log_prob(z) if self.prior == "gaussian" else standard_logistic_log_prob(z)

    def prior_sample(self, n: int) -> torch.Tensor:
        shape, dev, dt = (n, *self.latent_shape), self._anchor.device, self._anchor.dtype
        if self.prior == "gaussian":
            return torch.randn(shape, device=dev, dtype=dt)
        u = torch.rand(shape, device=dev, dtype=dt).clamp(1e-6, 1 - 1e-6)
        return torch.log(u) - torch.log1p(-u)

    def log_prob(self, x):
        z, logdet = self.flow(x)
        return self.prior_log_prob(z) + logdet

    @torch.no_grad()
    def sample(self, n):
        x = self.flow.inverse(self.prior_sample(n))
        return x.clamp(0, 1) if self.clamp else x

    def train_step(self, x, y, optimizers, step, autocast):
        """Trains in float32 unless config ``bf16`` is true: under bf16 autocast the 1x1-conv weights
        and the summed log-scales are rounded, so the log-determinant no longer matches the map."""
        if not self.config.get("bf16", False):
            autocast = contextlib.nullcontext
        return super().train_step(x, y, optimizers, step, autocast)


def halvings(shape, smallest: int) -> int:
    """How many times H and W of a (C, H, W) shape can be halved exactly, staying >= ``smallest``:
    the number of squeeze steps a multi-scale flow can take."""
    _, h, w = shape
    n = 0
    while h % 2 == 0 and w % 2 == 0 and h // 2 >= smallest and w // 2 >= smallest:
        h, w, n = h // 2, w // 2, n + 1
    return n
