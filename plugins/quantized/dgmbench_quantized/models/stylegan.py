"""StyleGAN (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks"), the original AdaIN generator (not StyleGAN2's weight demodulation),
trained non-progressively at the final resolution (no progressive growing).

Sizes and learning rates follow the authors' code (NVlabs/stylegan at
1e0d5c781384ef12b50ef20a62fee5d78b38e88f, ``training/networks_stylegan.py``: ``G_mapping`` with
latent_size = dlatent_size = mapping_fmaps = 512, mapping_layers = 8, mapping_lrmul = 0.01,
use_wscale = True; ``G_synthesis`` with fmap_base 8192, fmap_max 512). The named CPU configuration
:data:`dgmbench_quantized.protocols.STYLEGAN_CPU` (4 x 64 mapping, at most 64 channels) is what the
``fqgan`` protocol trains.

Generator:
* mapping network f: z -> w, ``mapping_layers`` fully connected layers of ``w_dim`` units
  (LeakyReLU 0.2) after normalizing z to unit second moment (pixel norm); 8 x 512 by default;
* equalized learning rate (Karras et al. 2018, "Progressive Growing of GANs", Sec. 4.1; ``get_weight``
  in the authors' code): every weight is stored as w ~ N(0, 1 / lrmul^2) and used as c w with the
  runtime scale c = lrmul gain / sqrt(fan_in) (gain sqrt(2), He's constant; 1 for the style maps A
  and the output 1x1 conv), biases as lrmul b; so the used weights start as He's init, and Adam's
  steps of about lr on w move the used weights by about lr c. The mapping network has lrmul =
  ``mapping_lr_mult`` (0.01): its effective learning rate is 100 times lower. ``equalized_lr``
  false stores the used weights directly (N(0, He std), runtime scale lrmul, the authors'
  use_wscale = False);
* synthesis network g: a learned constant (C, s, s) input (s = 4 for 32x32 and 64x64, 7 for 28x28),
  then per resolution two layers (the first of each but the lowest resolution after a nearest
  2x upsampling): 3x3 conv -> + B_i * noise -> bias, LeakyReLU -> AdaIN; a 1x1 conv to the image;
* per-layer noise: one (H, W) map of N(0, 1) per image, scaled per channel by learned B_i
  (initialized to 0, as in the paper);
* AdaIN (Eq. 1): AdaIN(x_i, y) = y_{s,i} (x_i - mu(x_i)) / sigma(x_i) + y_{b,i}, y = A(w) a learned
  affine map per layer (scales initialized around 1);
* style mixing regularization (Sec. 3.1): in training, with probability ``mixing_prob`` (0.9), a
  second z2 gives w2, and the layers from a random crossover on get w2 instead of w;
* truncation trick (Sec. 4, Eq. 3 of Appendix B): w' = w_avg + psi (w - w_avg), with w_avg the
  moving average (decay 0.995) of w tracked in training; applied when sampling with
  ``truncation_psi`` < 1 (to layers < ``truncation_cutoff``, all layers when None).

Discriminator and losses come from the ``gans`` plugin (:mod:`dgmbench_gans`): the DCGAN
discriminator of its backbone (without batch norm, since R1 penalizes per-example gradients) and
the non-saturating loss, plus the R1 penalty (gamma/2) E ||grad D(x)||^2 on real data the paper
uses (computed every step; ``r1_gamma: auto`` = 0.0002 H W / batch, Karras et al. 2020's heuristic).
The discriminator is not equalized (it is the gans plugin's), and there is no progressive growing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from dgmbench_gans.backbone import halvings
from dgmbench_gans.base import GAN, default_config
from torch import nn

#: the authors' sizes (module docstring)
DEFAULTS = dict(z_dim=512, w_dim=512, mapping_layers=8, fmap_base=8192, fmap_max=512, mixing_prob=0.9,
                truncation_psi=1.0, truncation_cutoff=None, w_avg_decay=0.995, r1_gamma="auto", batch_norm=False,
                beta1=0.0, beta2=0.99, width=64, equalized_lr=True, mapping_lr_mult=0.01)
HE_GAIN = math.sqrt(2)


class EqualLinear(nn.Module):
    """y = x (c W)^T + lrmul b with W ~ N(0, 1 / lrmul^2) and c = lrmul gain / sqrt(fan_in) (equalized
    learning rate); ``equalized`` False: W ~ N(0, (gain / sqrt(fan_in))^2), c = 1."""

    def __init__(self, fan_in: int, out: int, gain: float = HE_GAIN, lrmul: float = 1.0, equalized: bool = True,
                 bias_init: float = 0.0):
        super().__init__()
        he_std = gain / math.sqrt(fan_in)
        self.lrmul = float(lrmul)
        self.scale = he_std * lrmul if equalized else lrmul
        self.weight = nn.Parameter(torch.randn(out, fan_in) * ((1.0 if equalized else he_std) / lrmul))
        self.bias = nn.Parameter(torch.full((out,), bias_init / lrmul))

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x):
        return F.linear(x, self.effective_weight(), self.bias * self.lrmul)


class EqualConv2d(nn.Module):
    """A k x k convolution (stride 1, same padding) with the runtime scale of :class:`EqualLinear`
    (fan_in = c_in k^2)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, gain: float = HE_GAIN, equalized: bool = True,
                 bias: bool = True):
        super().__init__()
        he_std = gain / math.sqrt(c_in * kernel * kernel)
        self.scale = he_std if equalized else 1.0
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel) * (1.0 if equalized else he_std))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.padding = kernel // 2

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x):
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)


class Mapping(nn.Module):
    """z -> w: pixel norm, then ``layers`` equalized Linear (learning-rate multiplier ``lrmul``) + LeakyReLU(0.2)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lrmul: float = 0.01, equalized: bool = True):
        super().__init__()
        mods, d = [], z_dim
        for _ in range(layers):
            mods += [EqualLinear(d, w_dim, lrmul=lrmul, equalized=equalized), nn.LeakyReLU(0.2)]
            d = w_dim
        self.net = nn.Sequential(*mods)

    def forward(self, z):
        return self.net(z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8))


class NoiseInjection(nn.Module):
    """x + B * noise, B a learned per-channel scale (0 at the start), noise (N, 1, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x, noise):
        return x + self.scale * noise


class AdaIN(nn.Module):
    """y_s * instance_norm(x) + y_b with (y_s, y_b) = A(w) (Karras et al. 2019, Eq. 1)."""

    def __init__(self, channels: int, w_dim: int, equalized: bool = True):
        super().__init__()
        self.style = EqualLinear(w_dim, 2 * channels, gain=1.0, equalized=equalized)  # the affine map A
        with torch.no_grad():  # y_s = 1 + A(w)_s as the authors' style_mod
            self.style.bias[:channels].fill_(1.0)

    def forward(self, x, w):
        y_s, y_b = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return y_s * F.instance_norm(x) + y_b


class StyleLayer(nn.Module):
    """[upsample] -> 3x3 conv (or the constant) -> noise -> bias, LeakyReLU -> AdaIN."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool = False, conv: bool = True,
                 equalized: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = EqualConv2d(c_in, c_out, 3, equalized=equalized, bias=False) if conv else None
        self.noise = NoiseInjection(c_out)
        self.bias = nn.Parameter(torch.zeros(1, c_out, 1, 1))
        self.adain = AdaIN(c_out, w_dim, equalized)

    def forward(self, x, w, noise):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
        x = F.leaky_relu(self.noise(x, noise) + self.bias, 0.2)
        return self.adain(x, w)


class StyleGenerator(nn.Module):
    """z (N, z_dim) -> image (N, C, H, W) in about [-1, 1]; see the module docstring."""

    def __init__(self, shape, z_dim: int, w_dim: int, mapping_layers: int, fmap_base: int, fmap_max: int,
                 mixing_prob: float = 0.9, truncation_psi: float = 1.0, truncation_cutoff=None,
                 w_avg_decay: float = 0.995, equalized_lr: bool = True, mapping_lr_mult: float = 0.01):
        super().__init__()
        C, H, W = shape
        if H != W:
            raise ValueError(f"stylegan needs square images, not {H}x{W}")
        n, s = halvings(H)
        self.z_dim, self.w_dim, self.mixing_prob = z_dim, w_dim, float(mixing_prob)
        self.truncation_psi, self.truncation_cutoff = float(truncation_psi), truncation_cutoff
        self.w_avg_decay = w_avg_decay
        ch = lambda res: int(min(fmap_max, fmap_base // res))  # noqa: E731 - channels at a resolution
        eq = bool(equalized_lr)
        self.mapping = Mapping(z_dim, w_dim, mapping_layers, float(mapping_lr_mult), eq)
        self.const = nn.Parameter(torch.ones(1, ch(s), s, s))
        layers = [StyleLayer(ch(s), ch(s), w_dim, conv=False, equalized=eq),
                  StyleLayer(ch(s), ch(s), w_dim, equalized=eq)]
        sizes, res = [s, s], s
        for _ in range(n):
            layers += [StyleLayer(ch(res), ch(2 * res), w_dim, upsample=True, equalized=eq),
                       StyleLayer(ch(2 * res), ch(2 * res), w_dim, equalized=eq)]
            res *= 2
            sizes += [res, res]
        self.layers, self.sizes = nn.ModuleList(layers), sizes
        self.to_rgb = EqualConv2d(ch(res), C, 1, gain=1.0, equalized=eq)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.last_crossover = None  # the layer where the mixed-in style started in the last forward

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def make_noise(self, n: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """One N(0, 1) map (n, 1, H, W) per layer."""
        dev = self.const.device
        return [torch.randn(n, 1, r, r, generator=generator).to(dev) for r in self.sizes]

    def styles(self, z: torch.Tensor, crossover: int | None = None) -> list[torch.Tensor]:
        """One w per layer: f(z) everywhere; in training, with probability ``mixing_prob``, f(z2)
        from a random crossover layer on (style mixing); ``crossover`` forces one (tests)."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().float().mean(0), 1 - self.w_avg_decay)
        L = self.num_layers
        self.last_crossover = None
        if crossover is None and self.training and torch.rand(()) < self.mixing_prob:
            crossover = int(torch.randint(1, L, ()))
        if crossover is not None:
            w2 = self.mapping(torch.randn_like(z))
            self.last_crossover = crossover
            return [w if i < crossover else w2 for i in range(L)]
        if not self.training and self.truncation_psi != 1.0:
            cut = L if self.truncation_cutoff is None else int(self.truncation_cutoff)
            w_t = self.w_avg + self.truncation_psi * (w - self.w_avg)
            return [w_t if i < cut else w for i in range(L)]
        return [w] * L

    def synthesis(self, ws: list[torch.Tensor], noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        noise = self.make_noise(len(ws[0])) if noise is None else noise
        x = self.const.expand(len(ws[0]), -1, -1, -1)
        for layer, w, nz in zip(self.layers, ws, noise):
            x = layer(x, w, nz)
        return self.to_rgb(x)

    def forward(self, z, noise=None, crossover=None):
        return self.synthesis(self.styles(z, crossover), noise)


class StyleGAN(GAN):
    """The StyleGAN generator against the ``gans`` plugin's DCGAN discriminator, NS loss + R1."""

    adversarial = "ns"

    @classmethod
    def build(cls, dataset, config):
        if len(dataset.shape) != 3:
            raise ValueError(f"stylegan needs images; {dataset.name!r} has shape {tuple(dataset.shape)}")
        return cls(dataset, default_config(dataset, {**DEFAULTS, **(config or {})}))

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        c = self.config
        self.G = StyleGenerator(self.shape, int(c["z_dim"]), int(c["w_dim"]), int(c["mapping_layers"]),
                                int(c["fmap_base"]), int(c["fmap_max"]), float(c["mixing_prob"]),
                                float(c["truncation_psi"]), c["truncation_cutoff"], float(c["w_avg_decay"]),
                                bool(c["equalized_lr"]), float(c["mapping_lr_mult"]))

    def r1_gamma(self, batch: int) -> float:
        g = self.config["r1_gamma"]
        return 0.0002 * self.shape[1] * self.shape[2] / batch if g == "auto" else float(g)

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw):
        gamma = self.r1_gamma(len(x))
        if gamma <= 0:
            return {}
        real = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(real).float()[:, 0].sum(), real, create_graph=True)
        return {"r1": gamma / 2 * grad.pow(2).flatten(1).sum(1).mean()}
