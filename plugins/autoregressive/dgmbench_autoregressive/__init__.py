"""Autoregressive image models: PixelCNN (van den Oord et al. 2016a), Gated PixelCNN (van den Oord
et al. 2016b) and PixelCNN++ (Salimans et al. 2017).

All three factor p(x) = prod_{i,j,c} p(x_{i,j,c} | x_{<(i,j,c)}) in raster order (rows, then
columns, then R < G < B within a pixel) and give the exact discrete log-probability of the levels
(``likelihood = "discrete"``). The entry-point modules (``pixelcnn``, ``gated_pixelcnn``,
``pixelcnnpp``) are light; the networks live in ``models/``, shared layers in ``layers.py``, the
sampling loop in ``base.py`` and the discretized logistic mixture in ``logistic.py``.
Importing this package does not import torch.
"""
