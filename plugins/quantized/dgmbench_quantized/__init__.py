"""Vector-quantized generative models and StyleGAN for dgmbench.

* :mod:`.quantizer` - the shared :class:`VectorQuantizer` (nearest code, straight-through gradient,
  commitment loss, EMA codebook, dead-code restarts, usage perplexity).
* ``vqvae2`` - two-level VQ-VAE-2 with gated-PixelCNN priors (Razavi et al. 2019).
* ``stylegan`` - a non-progressive StyleGAN generator (Karras et al. 2019).
* ``fqgan`` - feature quantization in the discriminator (Zhao et al. 2020): FQ-DCGAN, FQ-StyleGAN.
* ``protocols`` - the ``fqgan`` and ``vqvae2`` leaderboards.

The entry-point modules are light (no torch import); the networks live in ``models/``.
"""
