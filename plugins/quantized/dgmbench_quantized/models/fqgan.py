"""FQ-GAN (Zhao, Li, Yu, Gao & Chen 2020, "Feature Quantization Improves GAN Training"): the
discriminator D = f_T o f_B gains f_Q, which maps every position's feature vector h of a chosen block
to its nearest entry e of a dictionary of K vectors (the shared
:class:`~dgmbench_quantized.quantizer.VectorQuantizer`), kept as moving averages (EMA) of the recent
real and fake features assigned to it. The FQ term

    lambda ||sg(e) - h||^2   (the mean over positions and channels, per batch)

enters D's loss once for the real and once for the fake batch, summed over the quantized blocks, and
G's loss for the generator step's fakes (``fq_generator_loss``), as in the authors' code
(YangNaruto/FQ-GAN at bc43d45700b2a84234932bc6d6616b0248d1304e: ``FQ-BigGAN/train_fns.py``,
``D_loss_real += quant_loss_real.mean()``, ``D_loss_fake += quant_loss_fake.mean()`` and
``G_loss = generator_loss(D_fake) + quant_loss_G.mean()``; ``FQ-StyleGAN/training/loss.py`` adds the
same terms to D's and G's logistic losses).

What passes on to the next block: the paper writes D = f_T o f_Q o f_B (the quantized features, with
the straight-through gradient). Both of the authors' released discriminators compute the quantized
features and discard them: ``FQ-BigGAN/BigGAN.py`` (``Discriminator.forward``:
``h_, diff, ppl = blocklist[1](h)``, then ``h`` goes on) and
``FQ-StyleGAN/training/networks_stylegan2.py`` (``D_stylegan2_quant``: ``quantized`` is unused), so
there the dictionary acts on D only through the FQ term. ``fq_pass_quantized`` chooses: false (the
default, the authors' code) passes h on; true passes the straight-through e on (the paper's equation).

Defaults, from the authors' scripts at that commit (the EMA update follows the lookup there, as in the
shared quantizer):

* ``fqgan`` (FQ-DCGAN) from FQ-BigGAN's CIFAR-10 launch script ``FQ-BigGAN/scripts/launch_C10.sh``
  (``--discrete_layer 0123 --commitment 1.0 --dict_size 10 --dict_decay 0.8``): every block of D
  quantized (``fq_layers: all``; their CIFAR D has four blocks), K = 2^10, lambda = 1.0, decay 0.8.
  The script's first version (commit a4cf3f1169d6ccb189d82714eafc8b3577681ffa) had K = 2^6 and decay
  0.9. The script's other settings (BigGAN's ResNet blocks, hinge loss, 4 D steps per G step, SN,
  G's weight EMA) belong to its backbone, not to FQ: here the backbone and loss are the ``gans``
  plugin's NS-GAN, so that ``fqgan`` differs from its twin ``nsgan`` by FQ alone.
* ``fq-stylegan`` from FQ-StyleGAN's ``FQ-StyleGAN/run_training.py`` defaults
  (``--discrete_layer 45 --commitment_cost 0.25 --decay 0.8``) and ``D_stylegan2_quant``'s dictionary
  sizes (K = 2^7 at those resolutions): the D blocks whose inputs are 16 to 32 pixels wide
  (``fq_layers: 16-32``: blocks 0 and 1 of 32x32 images, 1 and 2 of 64x64, block 0 of 28x28; the
  first block when none is), K = 128, lambda = 0.25, decay 0.8.

No dead-code restarts (their dictionaries have none; ``fq_restart_below`` turns them on).

Config: ``fq_layers`` (indices of D's blocks whose outputs are quantized, ``all``, or ``16-32``), ``fq_codes``
(K), ``fq_weight`` (lambda), ``fq_decay``, ``fq_generator_loss``, ``fq_pass_quantized``,
``fq_restart_below``, ``fq_log_every``.

* ``fqgan`` (FQ-DCGAN): the ``gans`` plugin's NS-GAN (:class:`dgmbench_gans.models.nsgan.NSGAN`, the
  DCGAN backbone) with FQ in D; its twin without FQ is that plugin's ``nsgan`` model.
* ``fq-stylegan``: :class:`~.stylegan.StyleGAN` with FQ in its (DCGAN) discriminator; twin ``stylegan``.
  Its R1 penalty's extra pass of D over the real batch leaves the dictionaries untouched.
"""
from __future__ import annotations

import contextlib

import torch
from dgmbench_gans.base import default_config
from dgmbench_gans.models.nsgan import NSGAN
from torch import nn

from ..quantizer import VectorQuantizer
from .stylegan import DEFAULTS as STYLEGAN_DEFAULTS
from .stylegan import StyleGAN

#: FQ-BigGAN's CIFAR-10 launch script (module docstring)
FQ_DEFAULTS = dict(fq_layers="all", fq_codes=2 ** 10, fq_weight=1.0, fq_decay=0.8, fq_generator_loss=True,
                   fq_pass_quantized=False, fq_restart_below=0.0, fq_log_every=100)
#: FQ-StyleGAN's run_training.py defaults and dictionary sizes (module docstring)
FQ_STYLEGAN_DEFAULTS = {**FQ_DEFAULTS, "fq_layers": "16-32", "fq_codes": 2 ** 7, "fq_weight": 0.25}


class QuantizedBlock(nn.Module):
    """A discriminator block followed by f_Q; keeps the FQ losses of the forward passes since the
    last :meth:`take_losses`."""

    def __init__(self, block: nn.Module, quantizer: VectorQuantizer, pass_quantized: bool = False):
        super().__init__()
        self.block, self.quantizer, self.pass_quantized = block, quantizer, bool(pass_quantized)
        self.losses: list[torch.Tensor] = []
        self.last_perplexity = torch.tensor(0.0)

    def forward(self, x):
        h = self.block(x)
        q = self.quantizer(h)
        self.losses.append(q.loss)
        self.last_perplexity = q.perplexity.detach()
        return q.quantized if self.pass_quantized else h

    def take_losses(self) -> list[torch.Tensor]:
        out, self.losses = self.losses, []
        return out


def block_channels(block: nn.Module) -> int:
    convs = [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    last = convs[-1]
    return last.out_channels if isinstance(last, nn.Conv2d) else last.out_features


def quantized_indices(layers, n: int, side: int) -> list[int]:
    """D's block indices for ``fq_layers``: ``all``, ``16-32`` (the blocks whose input is 16 to 32
    pixels wide, block i's input being side / 2^i; else the first block), or a list of (possibly
    negative) indices."""
    if layers == "all":
        return list(range(n))
    if layers == "16-32":
        return [i for i in range(n) if 16 <= side / 2 ** i <= 32] or [0]
    if isinstance(layers, str):
        raise ValueError(f"fq_layers must be 'all', '16-32' or a list of block indices, not {layers!r}")
    bad = [i for i in layers if not isinstance(i, int) or not -n <= i < n]
    if bad or not layers:
        raise ValueError(f"fq_layers {list(layers)}: D has {n} blocks (indices {-n}..{n - 1})")
    return sorted({i % n for i in layers})


class FeatureQuantization:
    """Mixin for a ``dgmbench_gans`` GAN: wraps the chosen D blocks in :class:`QuantizedBlock` and
    adds the FQ terms to D's loss (real and fake pass) and to G's (the fakes' pass). Put it before
    the GAN class in the bases."""

    def __init__(self, dataset, config):
        super().__init__(dataset, config)
        c = self.config
        self.fq_blocks = []
        side = self.shape[-1] if self.image else 0
        for i in quantized_indices(c["fq_layers"], len(self.D.blocks), side):
            vq = VectorQuantizer(int(c["fq_codes"]), block_channels(self.D.blocks[i]), decay=float(c["fq_decay"]),
                                 commitment=float(c["fq_weight"]), restart_below=float(c["fq_restart_below"]),
                                 log_every=int(c["fq_log_every"]))
            self.D.blocks[i] = QuantizedBlock(self.D.blocks[i], vq, bool(c["fq_pass_quantized"]))
            self.fq_blocks.append(self.D.blocks[i])

    def fq_term(self) -> torch.Tensor | None:
        """The FQ losses of D's passes since the last call: summed over passes and blocks."""
        losses = [loss for b in self.fq_blocks for loss in b.take_losses()]
        return torch.stack(losses).sum() if losses else None

    @contextlib.contextmanager
    def dictionaries_frozen(self):
        """D's passes inside leave the dictionaries alone (no EMA update)."""
        modes = [b.quantizer.training for b in self.fq_blocks]
        for b in self.fq_blocks:
            b.quantizer.eval()
        try:
            yield
        finally:
            for b, mode in zip(self.fq_blocks, modes):
                b.quantizer.train(mode)

    def d_loss(self, x, y):
        self.fq_term()  # drop what earlier passes left
        return super().d_loss(x, y)

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw):
        fq = self.fq_term()  # the real and the fake pass of d_loss
        with self.dictionaries_frozen():  # a penalty's extra passes (R1) are not FQ-GAN's
            terms = super().extra_d_loss(x, fake, out_real, out_fake, y, draw)
        self.fq_term()
        if fq is not None:
            terms["fq"] = fq
        return terms

    def g_loss(self, x, y):
        self.fq_term()
        return super().g_loss(x, y)

    def extra_g_loss(self, fake, out_fake, draw):
        terms = super().extra_g_loss(fake, out_fake, draw)
        fq = self.fq_term()  # the generator step's pass of D over the fakes
        if fq is not None and self.config["fq_generator_loss"]:
            terms["fq"] = fq
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
        return cls(dataset, default_config(dataset, {**STYLEGAN_DEFAULTS, **FQ_STYLEGAN_DEFAULTS, **(config or {})}))
