"""Plugin ``gans``: the GAN family on one DCGAN backbone. (Models and protocols are registered
here; no torch import at module level.)"""
from dgmbench import hookimpl


@hookimpl
def dgmbench_models():
    return []
