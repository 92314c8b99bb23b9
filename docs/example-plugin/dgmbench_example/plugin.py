"""The plugin module: light, no torch import. It names the model by a "module:attr" string."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        name="pixel-logistic",
        build="dgmbench_example.model:PixelLogistic.build",
        capabilities=["log_prob", "sample"],
        description="independent logistic density per sub-pixel (a baseline)",
    )]
