"""Plugin ``baselines``: the first two rows of the CIFAR-10 table. Light: no torch import.

* ``uniform``: the uniform density on [0, 1]^D. On dequantized L-level data log p(y) = 0, so
  NLL = D log L and bits/dim = log2 L exactly (8 bits/dim on 8-bit images).
* ``gaussian``: a full-covariance Gaussian fitted to the (dequantized) training data by maximum
  likelihood (sample mean and biased sample covariance).
* ``deep-gmm``: the Deep GMM (van den Oord & Schrauwen 2014, ``deep_gmm.py``), a Gaussian per path
  through layers of linear maps; exact log-likelihood."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("uniform", "dgmbench_baselines.models:Uniform.build", capabilities=["log_prob", "sample"],
                  description="uniform density on [0, 1]^D (log2 L bits/dim)",
                  paper="the CIFAR-10 table's first row", config={}),
        ModelSpec("gaussian", "dgmbench_baselines.models:Gaussian.build", capabilities=["log_prob", "sample"],
                  description="multivariate Gaussian, full covariance, maximum-likelihood fit",
                  paper="the CIFAR-10 table's 'Multivariate Gaussian' row", config={"jitter": float}),
        ModelSpec("deep-gmm", "dgmbench_baselines.deep_gmm:DeepGMM.build", capabilities=["log_prob", "sample"],
                  description="Deep GMM: a Gaussian per path through layers of linear maps, exact log-likelihood",
                  defaults={"nodes": [8, 4, 2], "init_scale": 0.25}, config={"nodes": list, "init_scale": float},
                  paper="van den Oord & Schrauwen 2014, Factoring Variations in Natural Images with Deep Gaussian "
                        "Mixture Models"),
    ]
