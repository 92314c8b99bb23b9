"""Plugin ``nice``: NICE (Dinh et al. 2015), additive coupling layers with alternating partitions,
MLP coupling functions and a final diagonal scaling; logistic or Gaussian prior."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec("nice", "dgmbench_flows.models.nice:build", capabilities=["log_prob", "sample"],
                      description="NICE: additive coupling flow with diagonal scaling (exact log-likelihood)",
                      paper="Dinh, Krueger & Bengio 2015, NICE: Non-linear Independent Components Estimation",
                      config={"couplings": int, "prior": str, "preprocess": str, "alpha": float, "hidden": int,
                              "layers": int, "bf16": bool})]
