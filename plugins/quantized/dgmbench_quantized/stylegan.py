"""Plugin ``stylegan``: the style-based generator with AdaIN (Karras et al. 2019), non-progressive,
against the ``gans`` plugin's DCGAN discriminator."""
from dgmbench import ModelSpec, hookimpl

#: the gans plugin's GAN keys (dgmbench_gans.base.COMMON, sizes) and StyleGAN's own
GAN_CONFIG = {"n_critic": int, "optimizer": str, "beta1": float, "beta2": float, "spectral_norm": bool,
              "minibatch_features": int, "vbn": bool, "feature_matching": bool, "historical_averaging": float,
              "label_smoothing": float, "batch_norm": bool, "z_dim": int, "width": int, "layers": int}
CONFIG = {**GAN_CONFIG, "w_dim": int, "mapping_layers": int, "fmap_base": int, "fmap_max": int, "mixing_prob": float,
          "truncation_psi": float, "truncation_cutoff": (int, type(None)), "w_avg_decay": float,
          "r1_gamma": (str, float), "equalized_lr": bool, "mapping_lr_mult": float}
#: the named CPU configuration (the fqgan protocol's StyleGAN cells): the defaults are the authors'
#: sizes (8 x 512 mapping, up to 512 channels), this is a 4 x 64 mapping and at most 64 channels
CPU_SIZES = {"fmap_base": 512, "fmap_max": 64, "z_dim": 64, "w_dim": 64, "mapping_layers": 4, "width": 32}
PAPER = "Karras, Laine & Aila (2019), A Style-Based Generator Architecture for Generative Adversarial Networks, CVPR"


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "stylegan", "dgmbench_quantized.models.stylegan:StyleGAN.build", capabilities=["sample"],
        description="StyleGAN (8x512 mapping, equalized lr, AdaIN, noise, style mixing, truncation), non-progressive; "
                    "NS loss + R1",
        budgets={b: {"lr": 2e-4} for b in ("smoke", "quick", "full")}, config=CONFIG,
        paper=PAPER)]
