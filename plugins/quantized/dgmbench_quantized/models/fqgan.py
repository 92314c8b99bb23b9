"""FQ-GAN (Zhao, Li, Yu, Gao & Chen 2020, "Feature Quantization Improves GAN Training"): the
discriminator D = f_T o f_B becomes D = f_T o f_Q o f_B, where f_Q replaces every position's feature
vector of an intermediate block by its nearest entry of a dictionary of K vectors (the shared
:class:`~dgmbench_quantized.quantizer.VectorQuantizer`), kept as moving averages (EMA) of the
recent real and fake features assigned to it. D's loss gains the FQ term

    lambda ||sg(e) - h||^2   (h = the block's features, e = their quantized values),

and the quantized features pass on with the straight-through gradient. Defaults follow the
authors' CIFAR-10 script (FQ-BigGAN ``launch_C10.sh``): K = 2^6 = 64, lambda = 1.0, decay 0.9; no
dead-code restarts (their dictionary has none; ``fq_restart_below`` turns them on).

Config: ``fq_layers`` (indices of D's blocks whose outputs are quantized; default [-2], the block
before the last), ``fq_codes`` (K), ``fq_weight`` (lambda), ``fq_decay``, ``fq_restart_below``.

* ``fqgan`` (FQ-DCGAN): the ``gans`` plugin's NS-GAN (:class:`dgmbench_gans.models.nsgan.NSGAN`, the
  DCGAN backbone) with FQ in D; its twin without FQ is that plugin's ``nsgan`` model.
* ``fq-stylegan``: :class:`~.stylegan.StyleGAN` with FQ in its (DCGAN) discriminator; twin ``stylegan``.
"""
from __future__ import annotations

import torch
from dgmbench_gans.base import default_config
from dgmbench_gans.models.nsgan import NSGAN
from torch import nn

from ..quantizer import VectorQuantizer
from .stylegan import DEFAULTS as STYLEGAN_DEFAULTS
from .stylegan import StyleGAN

FQ_DEFAULTS = dict(fq_layers=[-2], fq_codes=64, fq_weight=1.0, fq_decay=0.9, fq_restart_below=0.0, fq_log_every=100)


class QuantizedBlock(nn.Module):
    """A discriminator block followed by f_Q; keeps the FQ losses of the forward passes since the
    last :meth:`take_losses`."""

    def __init__(self, block: nn.Module, quantizer: VectorQuantizer):
        super().__init__()
        self.block, self.quantizer = block, quantizer
        self.losses: list[torch.Tensor] = []
        self.last_perplexity = torch.tensor(0.0)

    def forward(self, x):
        q = self.quantizer(self.block(x))
        self.losses.append(q.loss)
        self.last_perplexity = q.perplexity.detach()
        return q.quantized

    def take_losses(self) -> list[torch.Tensor]:
        out, self.losses = self.losses, []
        return out


def block_channels(block: nn.Module) -> int:
    convs = [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    last = convs[-1]
    return last.out_channels if isinstance(last, nn.Conv2d) else last.out_features


class FeatureQuantization:
    """Mixin for a ``dgmbench_gans`` GAN: wraps the chosen D blocks in :class:`QuantizedBlock` and
    adds the FQ loss to D's loss. Put it before the GAN class in the bases."""

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        c = self.config
        n = len(self.D.blocks)
        picked = sorted({int(i) % n for i in c["fq_layers"]})
        self.fq_blocks = []
        for i in picked:
            vq = VectorQuantizer(int(c["fq_codes"]), block_channels(self.D.blocks[i]), decay=float(c["fq_decay"]),
                                 commitment=float(c["fq_weight"]), restart_below=float(c["fq_restart_below"]),
                                 log_every=int(c["fq_log_every"]))
            self.D.blocks[i] = QuantizedBlock(self.D.blocks[i], vq)
            self.fq_blocks.append(self.D.blocks[i])

    def d_loss(self, x, y):
        for b in self.fq_blocks:  # drop what the generator step's D passes left
            b.take_losses()
        return super().d_loss(x, y)

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw):
        terms = super().extra_d_loss(x, fake, out_real, out_fake, y, draw)
        per_block = [torch.stack(losses).mean() for losses in (b.take_losses() for b in self.fq_blocks) if losses]
        if per_block:
            terms["fq"] = torch.stack(per_block).sum()
        return terms

    def extra_logs(self):
        logs = super().extra_logs()
        logs["fq_perplexity"] = torch.stack([b.last_perplexity for b in self.fq_blocks]).mean()
        return logs


class FQDCGAN(FeatureQuantization, NSGAN):
    @classmethod
    def build(cls, dataset, config):
        return cls(dataset, default_config(dataset, {**FQ_DEFAULTS, **(config or {})}))


class FQStyleGAN(FeatureQuantization, StyleGAN):
    @classmethod
    def build(cls, dataset, config):
        if len(dataset.shape) != 3:
            raise ValueError(f"fq-stylegan needs images; {dataset.name!r} has shape {tuple(dataset.shape)}")
        return cls(dataset, default_config(dataset, {**STYLEGAN_DEFAULTS, **FQ_DEFAULTS, **(config or {})}))
