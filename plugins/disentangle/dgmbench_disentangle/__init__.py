"""Disentanglement for dgmbench: beta-VAE (Higgins et al. 2017) with the capacity-controlled
objective of Burgess et al. (2018), FactorVAE (Kim & Mnih 2018), an oracle encoder and its rotated
twin (Locatello et al. 2019), the ``disentanglement`` and ``identifiability`` protocols, and a
latent-traversal grid for every run of a model with ``encode`` and ``decode``.

Importing this package does not import torch.
"""
