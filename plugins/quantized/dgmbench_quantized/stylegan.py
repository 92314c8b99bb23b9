"""Plugin ``stylegan``: the style-based generator with AdaIN (Karras et al. 2019), non-progressive,
against the ``gans`` plugin's DCGAN discriminator."""
from dgmbench import ModelSpec, hookimpl

PAPER = "Karras, Laine & Aila (2019), A Style-Based Generator Architecture for Generative Adversarial Networks, CVPR"


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "stylegan", "dgmbench_quantized.models.stylegan:StyleGAN.build", capabilities=["sample"],
        description="StyleGAN (AdaIN, mapping net, noise, style mixing, truncation), non-progressive; NS loss + R1",
        budgets={b: {"lr": 2e-4} for b in ("smoke", "quick", "full")}, paper=PAPER)]
