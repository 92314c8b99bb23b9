"""Baselines of the CIFAR-10 bits/dim table: a uniform density and a full-covariance Gaussian."""
