"""The plugin module (light: no torch import): the models ``vqvae2``, ``stylegan``, ``fqgan`` and
``fq-stylegan``, the metrics ``recon_mse``, ``codebook_usage`` and ``training_stages``, the
reconstructions PNG beside every vqvae2 run's samples, and the protocols ``fqgan`` and ``vqvae2``
(:mod:`.protocols`). The networks live in ``models/``."""
from dgmbench import MetricSpec, ModelSpec, hookimpl

from .protocols import protocols

VQVAE2_CONFIG = {"channels": int, "res_blocks": int, "embed_dim": int, "codes": int, "decay": float,
                 "commitment": float, "restart_below": float, "vqvae_steps": int, "prior_hidden": int,
                 "prior_layers": int, "bottom_halvings": (str, int), "log_every": int}
#: the gans plugin's GAN keys (dgmbench_gans.base.COMMON, sizes), for StyleGAN's DCGAN discriminator
GAN_CONFIG = {"n_critic": int, "optimizer": str, "beta1": float, "beta2": float, "spectral_norm": bool,
              "minibatch_features": int, "vbn": bool, "feature_matching": bool, "historical_averaging": float,
              "label_smoothing": float, "batch_norm": bool, "z_dim": int, "width": int, "layers": int}
STYLEGAN_CONFIG = {**GAN_CONFIG, "w_dim": int, "mapping_layers": int, "fmap_base": int, "fmap_max": int,
                   "mixing_prob": float, "truncation_psi": float, "truncation_cutoff": (int, type(None)),
                   "w_avg_decay": float, "r1_gamma": (str, float), "equalized_lr": bool, "mapping_lr_mult": float}
FQ_CONFIG = {"fq_layers": (list, str), "fq_codes": int, "fq_weight": float, "fq_decay": float,
             "fq_generator_loss": bool, "fq_pass_quantized": bool, "fq_restart_below": float, "fq_log_every": int}
GAN_BUDGETS = {b: {"lr": 2e-4} for b in ("smoke", "cpu", "gpu", "quick", "full")}  # as the gans plugin's nsgan

PAPERS = {
    "vqvae2": "Razavi, van den Oord & Vinyals (2019), Generating Diverse High-Fidelity Images with VQ-VAE-2, NeurIPS",
    "stylegan": "Karras, Laine & Aila (2019), A Style-Based Generator Architecture for Generative Adversarial "
                "Networks, CVPR",
    "fqgan": "Zhao, Li, Yu, Gao & Chen (2020), Feature Quantization Improves GAN Training, ICML",
}


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("vqvae2", "dgmbench_quantized.models.vqvae2:VQVAE2.build", capabilities=["elbo", "sample", "encode"],
                  description="VQ-VAE-2: top/bottom codes (EMA codebooks), then gated-PixelCNN priors; bits/dim is "
                              "a bound",
                  defaults={"vqvae_steps": 1000}, config=VQVAE2_CONFIG, paper=PAPERS["vqvae2"]),
        ModelSpec("stylegan", "dgmbench_quantized.models.stylegan:StyleGAN.build", capabilities=["sample"],
                  description="StyleGAN (8x512 mapping, equalized lr, AdaIN, noise, style mixing, truncation), "
                              "non-progressive; NS loss + R1",
                  budgets=GAN_BUDGETS, config=STYLEGAN_CONFIG, paper=PAPERS["stylegan"]),
        ModelSpec("fqgan", "dgmbench_quantized.models.fqgan:FQDCGAN.build", capabilities=["sample"],
                  description="FQ-DCGAN: NS-GAN on the DCGAN backbone with EMA dictionaries on D's features "
                              "(the authors' FQ-BigGAN CIFAR-10 settings)",
                  budgets=GAN_BUDGETS, config={**GAN_CONFIG, **FQ_CONFIG}, paper=PAPERS["fqgan"]),
        ModelSpec("fq-stylegan", "dgmbench_quantized.models.fqgan:FQStyleGAN.build", capabilities=["sample"],
                  description="FQ-StyleGAN: StyleGAN with EMA dictionaries on D's features (the authors' "
                              "FQ-StyleGAN settings)",
                  budgets=GAN_BUDGETS, config={**STYLEGAN_CONFIG, **FQ_CONFIG}, paper=PAPERS["fqgan"]),
    ]


@hookimpl
def dgmbench_metrics():
    return [
        MetricSpec("recon_mse", "dgmbench_quantized.metrics:recon_mse", requires=[["encode"]],
                   description="test reconstruction error (MSE per pixel on [0, 1]) of a vector-quantized autoencoder"),
        MetricSpec("codebook_usage", "dgmbench_quantized.metrics:codebook_usage", requires=[["encode"]],
                   lower_is_better=False,
                   description="test codebook perplexity and fraction of codes used, per level (VQ models)"),
        MetricSpec("training_stages", "dgmbench_quantized.metrics:training_stages", requires=[["encode"]],
                   lower_is_better=False,
                   description="updates made by each training stage of a two-stage model (vqvae2: VQ-VAE, priors)"),
    ]


@hookimpl
def dgmbench_protocols():
    return protocols()


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
