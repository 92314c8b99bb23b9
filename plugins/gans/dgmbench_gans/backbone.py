"""The one backbone every GAN of the family shares (so that a table compares losses, not
architectures: Lucic et al. 2018, "Are GANs Created Equal?").

Images follow the DCGAN rules (Radford, Metz & Chintala 2016, as in the seeds):

* G: z --linear--> (c_0, s, s) --[ConvTranspose 4x4 /2, BN, ReLU] x (n-1)--> ConvTranspose 4x4 /2
  --> tanh, with s = 7 for 28x28, 4 for 32x32 and 64x64 (n doubles s to the image size);
  channels halve at every step, starting from ``width * 2^(n-1)``;
* D: x --[Conv 4x4 /2, (BN), LeakyReLU(0.2)] x n--> flatten --linear--> ``out_dim`` outputs;
  channels double at every step from ``width``; no pooling; no BN on D's input block.

Vectors (``toy2d``, shape (D,)): MLPs with ``layers`` hidden layers of ``width`` units (ReLU in G,
LeakyReLU(0.2) in D), linear output.

The public API (the FQ-GAN plugin builds on it; keep it stable):

* :func:`build_generator` (shape, z_dim, width, ...) -> :class:`Generator`; ``G(z)`` returns
  images in [-1, 1] (tanh) or real vectors; ``extra`` input units take a label one-hot (CGAN)
  or codes (InfoGAN) concatenated to z by the caller.
* :func:`build_discriminator` (shape, width, ...) -> :class:`Discriminator`;
  ``D.features(x)`` returns every block's output (a list, first block first), ``D.head`` maps
  the flattened last one to the outputs, ``D(x)`` = ``D.head(flatten(D.features(x)[-1]))``;
  ``D.feature_dim`` is the flattened size of the last block; ``D.blocks`` is an
  ``nn.ModuleList`` (insert a layer between blocks by wrapping one). ``extra`` input channels
  carry a label's one-hot broadcast over the image (CGAN's D(x, c)).
* :func:`build_decoder` (shape, in_dim, width) -> the G-shaped net that maps D's features back
  to an image: the decoder of the auto-encoder discriminators (EBGAN, BEGAN).

Options: ``spectral_norm`` (Miyato et al. 2018) on every D layer; ``minibatch_features`` (> 0:
minibatch discrimination, Salimans et al. 2016, before D's head); ``vbn`` (virtual batch
normalization in G, Salimans et al. 2016, against a fixed reference batch of z).
"""
from __future__ import annotations

import torch
from torch import nn


def halvings(size: int) -> tuple[int, int]:
    """(n, s): halve ``size`` n times until s <= 7 or odd (28 -> 7 in 2, 32 -> 4 in 3, 64 -> 4 in 4)."""
    n = 0
    while size % 2 == 0 and size > 7:
        size //= 2
        n += 1
    if n == 0:
        raise ValueError(f"image size {size} cannot be built by strided convolutions (use 8, 28, 32, 64...)")
    return n, size


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalization (Salimans et al. 2016): example i is normalized with the
    statistics of the reference batch R together with itself,
    mu_i = (|R| mu_R + m_i) / (|R| + 1),  sigma^2_i = (|R| E_R[h^2] + E_i[h^2]) / (|R| + 1) - mu_i^2,
    per channel (and over positions for feature maps). The first ``ref`` rows of the input are R."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.ref = 0  # set by the Generator before every forward

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        r = self.ref
        dims = [0] + list(range(2, h.ndim))
        per = list(range(2, h.ndim))
        m_ref, sq_ref = h[:r].mean(dims, keepdim=True), (h[:r] ** 2).mean(dims, keepdim=True)
        m_i = h.mean(per, keepdim=True) if per else h
        sq_i = (h ** 2).mean(per, keepdim=True) if per else h ** 2
        mu = (r * m_ref + m_i) / (r + 1)
        var = ((r * sq_ref + sq_i) / (r + 1) - mu ** 2).clamp_min(0)
        shape = [1, -1] + [1] * (h.ndim - 2)
        return (h - mu) / torch.sqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: M_i = f_i T (B x C), c_b(i, j) = exp(-||M_i,b - M_j,b||_1),
    o(f_i)_b = sum_j c_b(i, j) (j != i); returns [f_i, o(f_i)]. A collapsing G makes o large."""

    def __init__(self, in_dim: int, kernels: int, kernel_dim: int = 5):
        super().__init__()
        self.T = nn.Parameter(torch.randn(in_dim, kernels * kernel_dim) * 0.1)
        self.kernels, self.kernel_dim = kernels, kernel_dim

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dim)
        l1 = (m[:, None] - m[None]).abs().sum(-1)           # (B, B, kernels)
        o = torch.exp(-l1).sum(1) - 1.0                       # minus the j = i term
        return torch.cat([f, o], 1)


def _square(shape) -> tuple[int, int, int]:
    c, h, w = shape
    if h != w:
        raise ValueError(f"the DCGAN backbone needs square images, not {h}x{w}")
    return (c, *halvings(h))


def _norm(kind: str, channels: int) -> nn.Module:
    return VirtualBatchNorm(channels) if kind == "vbn" else nn.BatchNorm2d(channels) if kind == "bn2d" \
        else nn.BatchNorm1d(channels)


class Generator(nn.Module):
    """z (B, z_dim + extra) -> x. See the module docstring for the layers."""

    def __init__(self, body: nn.Sequential, z_dim: int, vbn_ref: int = 0):
        super().__init__()
        self.body, self.z_dim = body, z_dim
        self.vbn = [m for m in body.modules() if isinstance(m, VirtualBatchNorm)]
        if self.vbn:  # the fixed reference batch (drawn once, saved with the model)
            self.register_buffer("z_ref", torch.randn(vbn_ref, z_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.vbn:
            return self.body(z)
        ref = self.z_ref.to(z.dtype)
        if z.shape[1] > ref.shape[1]:  # conditioning units: the reference batch takes zeros
            ref = torch.cat([ref, ref.new_zeros(len(ref), z.shape[1] - ref.shape[1])], 1)
        for m in self.vbn:
            m.ref = len(ref)
        return self.body(torch.cat([ref, z]))[len(ref):]


def build_generator(shape, z_dim: int, width: int, extra: int = 0, layers: int = 2, vbn: bool = False,
                    vbn_ref: int = 64) -> Generator:
    """The DCGAN generator for ``shape`` = (C, H, W), or an MLP for (D,)."""
    norm1d = "vbn" if vbn else "bn1d"
    if len(shape) == 1:
        mods: list[nn.Module] = []
        d = z_dim + extra
        for _ in range(layers):
            mods += [nn.Linear(d, width), _norm(norm1d, width), nn.ReLU()]
            d = width
        mods.append(nn.Linear(d, shape[0]))
        return Generator(nn.Sequential(*mods), z_dim, vbn_ref)
    c, n, s = _square(shape)
    ch = width * 2 ** (n - 1)
    mods = [nn.Linear(z_dim + extra, ch * s * s), _norm(norm1d, ch * s * s), nn.ReLU(), nn.Unflatten(1, (ch, s, s))]
    for _ in range(n - 1):
        mods += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), _norm("vbn" if vbn else "bn2d", ch // 2),
                 nn.ReLU()]
        ch //= 2
    mods += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
    return Generator(nn.Sequential(*mods), z_dim, vbn_ref)


def build_decoder(shape, in_dim: int, width: int, layers: int = 2) -> nn.Module:
    """The auto-encoder discriminator's decoder (EBGAN, BEGAN): G's layout from ``in_dim`` code
    units, with no normalization (a reconstruction must not depend on the batch)."""
    g = build_generator(shape, in_dim, width, layers=layers)
    return nn.Sequential(*[nn.Identity() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) else m
                           for m in g.body])


class Discriminator(nn.Module):
    """x (B, *shape) -> (B, out_dim). ``features(x)`` exposes every block's output."""

    def __init__(self, blocks: nn.ModuleList, head: nn.Module, feature_dim: int, extra: int, image: bool):
        super().__init__()
        self.blocks, self.head, self.feature_dim = blocks, head, feature_dim
        self.extra, self.image = extra, image

    def condition(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Append the conditioning units ``c`` (B, extra): as constant channels on images."""
        if c is None:
            return x
        c = c.to(x.dtype)
        if self.image:
            c = c[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return torch.cat([x, c], 1)

    def features(self, x: torch.Tensor, c: torch.Tensor | None = None) -> list[torch.Tensor]:
        h, out = self.condition(x, c), []
        for block in self.blocks:
            h = block(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, c)[-1].flatten(1))


def build_discriminator(shape, width: int, out_dim: int = 1, extra: int = 0, layers: int = 2,
                        spectral_norm: bool = False, minibatch_features: int = 0, batch_norm: bool = True
                        ) -> Discriminator:
    """The DCGAN discriminator for ``shape`` = (C, H, W), or an MLP for (D,). ``batch_norm``
    False drops BN (the gradient-penalty critics: WGAN-GP and DRAGAN penalize per-example
    gradients, which batch statistics would couple)."""
    sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
    blocks = nn.ModuleList()
    if len(shape) == 1:
        d = shape[0] + extra
        for _ in range(layers):
            blocks.append(nn.Sequential(sn(nn.Linear(d, width)), nn.LeakyReLU(0.2)))
            d = width
        feature_dim = d
    else:
        c, n, s = _square(shape)
        ch_in, ch = c + extra, width
        for i in range(n):
            norm = nn.BatchNorm2d(ch) if batch_norm and i > 0 else nn.Identity()
            blocks.append(nn.Sequential(sn(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=i == 0 or not batch_norm)), norm,
                                        nn.LeakyReLU(0.2)))
            ch_in, ch = ch, ch * 2
        feature_dim = ch_in * s * s
    head: list[nn.Module] = []
    d = feature_dim
    if minibatch_features:
        head.append(MinibatchDiscrimination(feature_dim, minibatch_features))
        d += minibatch_features
    head.append(sn(nn.Linear(d, out_dim)))
    return Discriminator(blocks, nn.Sequential(*head), feature_dim, extra, len(shape) == 3)


def init_dcgan(module: nn.Module) -> None:
    """DCGAN initialization: conv weights ~ N(0, 0.02), BN scales ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, VirtualBatchNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["Generator", "Discriminator", "VirtualBatchNorm", "MinibatchDiscrimination", "build_generator",
           "build_discriminator", "build_decoder", "init_dcgan", "halvings", "num_parameters"]
