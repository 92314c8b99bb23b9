"""Plugin ``gaussian``: a full-covariance Gaussian fitted to the (dequantized) training data by
maximum likelihood (sample mean and biased sample covariance)."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("gaussian", "dgmbench_baselines.models:Gaussian.build", capabilities=["log_prob", "sample"],
                      description="multivariate Gaussian, full covariance, maximum-likelihood fit",
                      paper="the CIFAR-10 table's 'Multivariate Gaussian' row", config={"jitter": float})]
