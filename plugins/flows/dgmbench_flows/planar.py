"""Plugin ``planar``: a density model of K planar flows (Rezende & Mohamed 2015) applied to the data
(z = f(x), exact log_prob; sampling inverts each layer by bisection + Newton), for 2-D data."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("planar", "dgmbench_flows.models.planar:PlanarDensity.build",
                      capabilities=["log_prob", "sample"],
                      description="planar flow density (normalizing direction on the data; toy2d)",
                      paper="Rezende & Mohamed 2015, Variational Inference with Normalizing Flows",
                      config={"flows": int, "actnorm": bool, "preprocess": str, "alpha": float, "bf16": bool})]
