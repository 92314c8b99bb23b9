"""Plugin ``iwae``: the importance weighted autoencoder (Burda et al. 2016), trained on
log (1/k) sum_i w_i; the same networks as ``vae``."""
from dgmbench import ModelSpec, hookimpl

from . import plugin


@hookimpl
def dgmbench_models():
    return [ModelSpec("iwae", "dgmbench_latent.models:IWAE.build", capabilities=plugin.CAPABILITIES,
                      description="IWAE (importance-weighted bound), 1 or 2 stochastic layers",
                      defaults={"layers": 1, "k": 5}, budgets=plugin.BUDGETS, paper=plugin.PAPER)]


@hookimpl
def dgmbench_run_start(record, model, out_dir):
    plugin.run_start(record, model, out_dir)


@hookimpl
def dgmbench_epoch_end(record, model, epoch, logs):
    plugin.epoch_end(model, epoch)


@hookimpl
def dgmbench_run_end(record, results, status):
    plugin.run_end(record, status)
