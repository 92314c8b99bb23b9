"""Plugin ``flows``: Real NVP, NICE, Glow, planar flows and the planar-flow VAE, plus the MADE-style
autoregressive layers (:mod:`dgmbench_flows.autoregressive`) that IAF and AF models share.
Light: no torch import at module level (the models are named by ``module:attribute`` strings)."""
from dgmbench import ModelSpec, hookimpl

PLANAR_PAPER = "Rezende & Mohamed 2015, Variational Inference with Normalizing Flows"


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("realnvp", "dgmbench_flows.models.realnvp:build", capabilities=["log_prob", "sample"],
                  description="Real NVP: multi-scale affine coupling flow (exact log-likelihood)",
                  paper="Dinh, Sohl-Dickstein & Bengio 2017, Density estimation using Real NVP",
                  config={"alpha": float, "preprocess": str, "scales": int, "channels": int, "blocks": int,
                          "final_couplings": int, "weight_norm": bool, "couplings": int, "hidden": int,
                          "layers": int, "bf16": bool}),
        ModelSpec("nice", "dgmbench_flows.models.nice:build", capabilities=["log_prob", "sample"],
                  description="NICE: additive coupling flow with diagonal scaling (exact log-likelihood)",
                  paper="Dinh, Krueger & Bengio 2015, NICE: Non-linear Independent Components Estimation",
                  config={"couplings": int, "prior": str, "preprocess": str, "alpha": float, "hidden": int,
                          "layers": int, "bf16": bool}),
        ModelSpec("glow", "dgmbench_flows.models.glow:build", capabilities=["log_prob", "sample"],
                  description="Glow: actnorm + invertible 1x1 conv + affine coupling, multi-scale",
                  paper="Kingma & Dhariwal 2018, Glow: Generative Flow with Invertible 1x1 Convolutions",
                  config={"preprocess": str, "alpha": float, "levels": int, "steps": int, "channels": int,
                          "hidden": int, "layers": int, "bf16": bool}),
        ModelSpec("planar", "dgmbench_flows.models.planar:PlanarDensity.build", capabilities=["log_prob", "sample"],
                  description="planar flow density (normalizing direction on the data; toy2d)",
                  paper=PLANAR_PAPER,
                  config={"flows": int, "actnorm": bool, "preprocess": str, "alpha": float, "bf16": bool}),
        ModelSpec("planar-vae", "dgmbench_flows.models.planar:PlanarVAE.build",
                  capabilities=["elbo", "iw_bound", "sample", "encode"],
                  description="VAE with a K-layer planar-flow posterior (Bernoulli decoder, binary data)",
                  paper=PLANAR_PAPER, config={"latent": int, "hidden": list, "flows": int, "sample_binary": bool}),
    ]
