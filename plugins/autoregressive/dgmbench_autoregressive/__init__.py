"""Autoregressive image models: PixelCNN (van den Oord et al. 2016a), Gated PixelCNN (van den Oord
et al. 2016b), PixelCNN++ (Salimans et al. 2017), PixelRNN's Row LSTM and Diagonal BiLSTM (van den
Oord et al. 2016a) and PixelSNAIL (Chen et al. 2018).

All factor p(x) = prod_{i,j,c} p(x_{i,j,c} | x_{<(i,j,c)}) in raster order (rows, then columns,
then R < G < B within a pixel) and give the exact discrete log-probability of the levels
(``likelihood = "discrete"``). ``plugin`` registers them (light); the networks live in
``models/``, shared layers in ``layers.py``, the likelihood base classes and the sampling loop in
``base.py`` and the discretized logistic mixture in ``logistic.py``. Importing this package does
not import torch.
"""
