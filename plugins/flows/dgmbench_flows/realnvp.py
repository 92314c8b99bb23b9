"""Plugin ``realnvp``: Real NVP (Dinh et al. 2017), affine couplings with checkerboard and channel
masks, squeeze and multi-scale factoring-out, logit preprocessing; MLP couplings on vectors."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("realnvp", "dgmbench_flows.models.realnvp:build", capabilities=["log_prob", "sample"],
                      description="Real NVP: multi-scale affine coupling flow (exact log-likelihood)",
                      paper="Dinh, Sohl-Dickstein & Bengio 2017, Density estimation using Real NVP",
                      config={"alpha": float, "preprocess": str, "scales": int, "channels": int, "blocks": int,
                              "final_couplings": int, "weight_norm": bool, "couplings": int, "hidden": int,
                              "layers": int, "bf16": bool})]
