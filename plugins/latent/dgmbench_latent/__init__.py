"""Latent-variable models for dgmbench: the VAE and IWAE of Burda, Grosse & Salakhutdinov (2016)
(:mod:`.models`), the ResNet VAE with IAF posterior (:mod:`.iaf_vae`), the AF VAE and VLAE
(:mod:`.vlae`), DRAW (:mod:`.draw`), Convolutional DRAW (:mod:`.conv_draw`) and the discrete VAE
(:mod:`.dvae`); the posterior-collapse toy data (:mod:`.toy`), the ``lossy_code`` metric
(:mod:`.lossy`) and the ``vlae`` protocol (:mod:`.protocols`). The hookimpls are in :mod:`.plugin`.

Reusable pieces: :mod:`dgmbench_latent.networks` (``GaussianMLP``, ``BernoulliMLP``),
:mod:`dgmbench_latent.pixels` (per-pixel distributions, ResNet blocks) and
:class:`dgmbench_latent.models.LatentVariableModel`. Importing this package does not import torch.
"""
