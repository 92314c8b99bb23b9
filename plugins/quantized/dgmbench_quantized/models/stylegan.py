"""StyleGAN (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative
Adversarial Networks"), the original AdaIN generator (not StyleGAN2's weight demodulation),
trained non-progressively at the final resolution (no progressive growing).

Generator:
* mapping network f: z -> w, ``mapping_layers`` fully connected layers (LeakyReLU 0.2) after
  normalizing z to unit second moment (pixel norm); the paper uses 8 layers of 512 units;
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
Equalized learning rate and the mapping network's lower learning rate are left out.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from dgmbench_gans.backbone import halvings
from dgmbench_gans.base import GAN, default_config
from torch import nn

DEFAULTS = dict(z_dim=128, w_dim=128, mapping_layers=4, fmap_base=2048, fmap_max=256, mixing_prob=0.9,
                truncation_psi=1.0, truncation_cutoff=None, w_avg_decay=0.995, r1_gamma="auto", batch_norm=False,
                beta1=0.0, beta2=0.99, width=64)


class Mapping(nn.Module):
    """z -> w: pixel norm, then ``layers`` Linear + LeakyReLU(0.2)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int):
        super().__init__()
        mods, d = [], z_dim
        for _ in range(layers):
            mods += [nn.Linear(d, w_dim), nn.LeakyReLU(0.2)]
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

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.style = nn.Linear(w_dim, 2 * channels)  # the affine map A
        with torch.no_grad():
            self.style.bias[:channels].fill_(1.0)
            self.style.bias[channels:].zero_()

    def forward(self, x, w):
        y_s, y_b = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return y_s * F.instance_norm(x) + y_b


class StyleLayer(nn.Module):
    """[upsample] -> 3x3 conv (or the constant) -> noise -> bias, LeakyReLU -> AdaIN."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool = False, conv: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False) if conv else None
        self.noise = NoiseInjection(c_out)
        self.bias = nn.Parameter(torch.zeros(1, c_out, 1, 1))
        self.adain = AdaIN(c_out, w_dim)

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
                 w_avg_decay: float = 0.995):
        super().__init__()
        C, H, W = shape
        if H != W:
            raise ValueError(f"stylegan needs square images, not {H}x{W}")
        n, s = halvings(H)
        self.z_dim, self.w_dim, self.mixing_prob = z_dim, w_dim, float(mixing_prob)
        self.truncation_psi, self.truncation_cutoff = float(truncation_psi), truncation_cutoff
        self.w_avg_decay = w_avg_decay
        ch = lambda res: int(min(fmap_max, fmap_base // res))  # noqa: E731 - channels at a resolution
        self.mapping = Mapping(z_dim, w_dim, mapping_layers)
        self.const = nn.Parameter(torch.ones(1, ch(s), s, s))
        layers, sizes, res = [StyleLayer(ch(s), ch(s), w_dim, conv=False), StyleLayer(ch(s), ch(s), w_dim)], [s, s], s
        for _ in range(n):
            layers += [StyleLayer(ch(res), ch(2 * res), w_dim, upsample=True),
                       StyleLayer(ch(2 * res), ch(2 * res), w_dim)]
            res *= 2
            sizes += [res, res]
        self.layers, self.sizes = nn.ModuleList(layers), sizes
        self.to_rgb = nn.Conv2d(ch(res), C, 1)
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
                                float(c["truncation_psi"]), c["truncation_cutoff"], float(c["w_avg_decay"]))

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
