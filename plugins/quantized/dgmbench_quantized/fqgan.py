"""Plugins ``fqgan`` (FQ-DCGAN: the ``gans`` plugin's NS-GAN with feature quantization in D) and
``fq-stylegan`` (StyleGAN with feature quantization in D), Zhao et al. 2020."""
from dgmbench import ModelSpec, hookimpl

from .stylegan import CONFIG as STYLEGAN_CONFIG
from .stylegan import GAN_CONFIG

PAPER = "Zhao, Li, Yu, Gao & Chen (2020), Feature Quantization Improves GAN Training, ICML"
FQ_CONFIG = {"fq_layers": (list, str), "fq_codes": int, "fq_weight": float, "fq_decay": float,
             "fq_generator_loss": bool, "fq_pass_quantized": bool, "fq_restart_below": float, "fq_log_every": int}
BUDGETS = {b: {"lr": 2e-4} for b in ("smoke", "quick", "full")}  # as the gans plugin's nsgan


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("fqgan", "dgmbench_quantized.models.fqgan:FQDCGAN.build", capabilities=["sample"],
                  description="FQ-DCGAN: NS-GAN on the DCGAN backbone with an EMA dictionary quantizing D's features",
                  budgets=BUDGETS, config={**GAN_CONFIG, **FQ_CONFIG}, paper=PAPER),
        ModelSpec("fq-stylegan", "dgmbench_quantized.models.fqgan:FQStyleGAN.build", capabilities=["sample"],
                  description="FQ-StyleGAN: StyleGAN with an EMA dictionary quantizing D's features",
                  budgets=BUDGETS, config={**STYLEGAN_CONFIG, **FQ_CONFIG}, paper=PAPER),
    ]
