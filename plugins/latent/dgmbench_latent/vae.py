"""Plugin ``vae``: the variational autoencoder trained on the k-sample ELBO (Kingma & Welling
2014), with Burda et al.'s architectures; also registers the posterior-collapse toy datasets
``gaussian-diag`` and ``gaussian-full``."""
from dgmbench import DatasetSpec, ModelSpec, hookimpl

from . import plugin


@hookimpl
def dgmbench_models():
    return [ModelSpec("vae", "dgmbench_latent.models:VAE.build", capabilities=plugin.CAPABILITIES,
                      description="VAE (k-sample ELBO), 1 or 2 stochastic layers, Bernoulli or Gaussian decoder",
                      defaults={"layers": 1, "k": 1}, budgets=plugin.BUDGETS, paper=plugin.PAPER, config=plugin.CONFIG)]


@hookimpl
def dgmbench_datasets():
    load = "dgmbench_latent.toy:load_gaussian"
    return [DatasetSpec(f"gaussian-{kind}", load, (2,), levels=None, options={"covariance_kind": kind},
                        description=f"2-D Gaussian, {words} covariance (posterior-collapse toy example)")
            for kind, words in (("diag", "diagonal"), ("full", "non-diagonal (rho = 0.9)"))]


# The event hooks serve vae and iwae models alike (registered here once).
@hookimpl
def dgmbench_run_start(record, model, out_dir):
    plugin.run_start(record, model, out_dir)


@hookimpl
def dgmbench_epoch_end(record, model, epoch, logs):
    plugin.epoch_end(model, epoch)


@hookimpl
def dgmbench_run_end(record, results, status):
    plugin.run_end(record, status)
