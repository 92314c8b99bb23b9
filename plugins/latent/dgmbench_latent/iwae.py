"""Plugin ``iwae``: the importance weighted autoencoder (Burda et al. 2016), trained on
log (1/k) sum_i w_i; the same networks as ``vae``. The family's event hooks (learning-rate
schedule, reconstruction PNGs) are registered once, by the ``vae`` module: both ship together."""
from dgmbench import ModelSpec, hookimpl

from . import plugin


@hookimpl
def dgmbench_models():
    return [ModelSpec("iwae", "dgmbench_latent.models:IWAE.build", capabilities=plugin.CAPABILITIES,
                      description="IWAE (importance-weighted bound), 1 or 2 stochastic layers",
                      defaults={"layers": 1, "k": 5}, budgets=plugin.BUDGETS, paper=plugin.PAPER, config=plugin.CONFIG)]

