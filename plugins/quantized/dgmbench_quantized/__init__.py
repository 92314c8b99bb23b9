"""Vector-quantized generative models and StyleGAN for dgmbench.

* :mod:`.plugin` - the one plugin module (entry point ``quantized``; light, no torch import): model,
  metric and protocol specs.
* :mod:`.quantizer` - the shared :class:`VectorQuantizer` (nearest code, straight-through gradient,
  commitment loss, EMA codebook, dead-code restarts, usage perplexity).
* ``models/vqvae2.py`` - two-level VQ-VAE-2 with gated-PixelCNN priors (Razavi et al. 2019).
* ``models/stylegan.py`` - a non-progressive StyleGAN generator (Karras et al. 2019).
* ``models/fqgan.py`` - feature quantization in the discriminator (Zhao et al. 2020): FQ-DCGAN, FQ-StyleGAN.
* :mod:`.protocols` - the ``fqgan`` and ``vqvae2`` leaderboards and the named CPU configurations.
"""
