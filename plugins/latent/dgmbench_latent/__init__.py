"""Latent-variable models for dgmbench: the VAE and the IWAE of Burda, Grosse & Salakhutdinov
(2016), with one or two stochastic layers, plus the Gaussian toy data of the posterior-collapse
example.

Reusable pieces: :mod:`dgmbench_latent.networks` (``GaussianMLP``, ``BernoulliMLP``) and
:class:`dgmbench_latent.models.LatentVariableModel`. Importing this package does not import torch.
"""
