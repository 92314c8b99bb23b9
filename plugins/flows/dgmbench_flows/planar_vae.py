"""Plugin ``planar-vae``: a VAE whose posterior is a Gaussian pushed through K planar flows with
amortized parameters (Rezende & Mohamed 2015, the "Normalizing flows" row of the MNIST NLL table);
Bernoulli decoder on binarized data."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("planar-vae", "dgmbench_flows.models.planar:PlanarVAE.build",
                      capabilities=["elbo", "iw_bound", "sample", "encode"],
                      description="VAE with a K-layer planar-flow posterior (Bernoulli decoder, binary data)",
                      paper="Rezende & Mohamed 2015, Variational Inference with Normalizing Flows",
                      config={"latent": int, "hidden": list, "flows": int, "sample_binary": bool})]
