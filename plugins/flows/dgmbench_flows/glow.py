"""Plugin ``glow``: Glow (Kingma & Dhariwal 2018), actnorm with data-dependent init, LU-parameterized
invertible 1x1 convolutions, affine couplings, multi-scale with learnt split priors."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("glow", "dgmbench_flows.models.glow:build", capabilities=["log_prob", "sample"],
                      description="Glow: actnorm + invertible 1x1 conv + affine coupling, multi-scale",
                      paper="Kingma & Dhariwal 2018, Glow: Generative Flow with Invertible 1x1 Convolutions",
                      config={"preprocess": str, "alpha": float, "levels": int, "steps": int, "channels": int,
                              "hidden": int, "layers": int, "bf16": bool})]
