"""Plugin ``vqvae2``: two-level VQ-VAE-2 with gated-PixelCNN priors over its codes (Razavi et al.
2019); also the metrics ``recon_mse`` and ``codebook_usage``, and a reconstructions PNG beside every
vqvae2 run's samples (``reconstructions.png``: training images over their reconstructions)."""
from dgmbench import MetricSpec, ModelSpec, hookimpl

CONFIG = {"channels": int, "res_blocks": int, "embed_dim": int, "codes": int, "decay": float, "commitment": float,
          "restart_below": float, "vqvae_steps": int, "prior_hidden": int, "prior_layers": int,
          "bottom_halvings": (str, int), "log_every": int}
PAPER = "Razavi, van den Oord & Vinyals (2019), Generating Diverse High-Fidelity Images with VQ-VAE-2, NeurIPS"


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "vqvae2", "dgmbench_quantized.models.vqvae2:VQVAE2.build", capabilities=["elbo", "sample", "encode"],
        description="VQ-VAE-2: top/bottom codes (EMA codebooks), then gated-PixelCNN priors; bits/dim is a bound",
        defaults={"vqvae_steps": 1000}, config=CONFIG, paper=PAPER)]


@hookimpl
def dgmbench_metrics():
    return [
        MetricSpec("recon_mse", "dgmbench_quantized.metrics:recon_mse", requires=[["encode"]],
                   description="test reconstruction error (MSE per pixel on [0, 1]) of a vector-quantized autoencoder"),
        MetricSpec("codebook_usage", "dgmbench_quantized.metrics:codebook_usage", requires=[["encode"]],
                   lower_is_better=False,
                   description="test codebook perplexity and fraction of codes used, per level (VQ models)"),
    ]


_OUT: dict = {}  # id(record) -> (model, out_dir) of vqvae2 runs


@hookimpl
def dgmbench_run_start(record, model, out_dir):
    if hasattr(model, "save_reconstructions"):
        _OUT[id(record)] = (model, out_dir)


@hookimpl
def dgmbench_run_end(record, results, status):
    model, out_dir = _OUT.pop(id(record), (None, None))
    if model is not None and status in ("ok", "partial"):
        model.save_reconstructions(out_dir / "reconstructions.png")
