"""Diffusion models as dgmbench plugins: deep diffusion (Sohl-Dickstein et al. 2015) and DDPM
(Ho et al. 2020). Both report the variational bound on log p(x) (``elbo``: the nll metric flags
it ``nll_is_bound``) and sample by running the learned reverse chain. ``plugin`` registers them
(light); ``process`` holds the Gaussian diffusion and the bound's terms, ``base`` what the two
models share, ``unet`` DDPM's network. Importing this package does not import torch.
"""
