"""The protocols ``fqgan`` (GANs with and without feature quantization in D) and ``vqvae2``, and the
named CPU configurations their cells train; light (no torch).

The cells use the named CPU configurations (they train under a CPU budget; a GPU run of the same
cells only changes the budget): the models' defaults are the authors' sizes, these are smaller.
``fqgan``'s paper values (Zhao et al. 2020: BigGAN / FQ-BigGAN on ImageNet, StyleGAN / FQ-StyleGAN on
FFHQ, FID and IS from Inception features) stand in their own rows, with their dataset and feature
network, beside the ``[inception]`` columns only; our cells are CIFAR-10, MNIST and CelebA (when
present), scored with whatever feature network the run used (the tag in each column name).
"""
from __future__ import annotations

from pathlib import Path

from dgmbench import Cell, ProtocolSpec
from dgmbench.claims import ours, verdict

#: the reference tables shipped with this plugin (package data)
REFERENCES = Path(__file__).resolve().parent / "references"

#: DCGAN at width 32 (the gans plugin's default is 64), for nsgan and fqgan
DCGAN_CPU = {"width": 32}
#: StyleGAN with a 4 x 64 mapping network and at most 64 channels (the defaults: 8 x 512, up to 512)
STYLEGAN_CPU = {"fmap_base": 512, "fmap_max": 64, "z_dim": 64, "w_dim": 64, "mapping_layers": 4, "width": 32}
#: VQ-VAE-2 at small widths, 1,000 VQ-VAE steps before the priors
VQVAE2_CPU = {"channels": 32, "res_blocks": 1, "embed_dim": 16, "codes": 64, "prior_hidden": 16, "prior_layers": 4,
              "vqvae_steps": 1000}

GAN_DATASETS = [("mnist", "MNIST", 28), ("cifar10", "CIFAR-10", 32), ("celeba", "CelebA", 64)]
GAN_CELLS = [  # (key, model, config, label); the FQ twins differ from their baselines only by FQ in D
    ("dcgan", "nsgan", DCGAN_CPU, "DCGAN"),
    ("fq-dcgan", "fqgan", DCGAN_CPU, "FQ-DCGAN"),
    ("stylegan", "stylegan", STYLEGAN_CPU, "StyleGAN"),
    ("fq-stylegan", "fq-stylegan", STYLEGAN_CPU, "FQ-StyleGAN"),
]
PAIRS = [("dcgan", "fq-dcgan"), ("stylegan", "fq-stylegan")]

VQ_CELLS = [  # (key, dataset, config, label); the steps each stage really ran are the table's columns
    ("mnist-small", "mnist", VQVAE2_CPU, "small (VQVAE2_CPU): vqvae_steps 1,000, then the priors"),
    ("cifar10-small", "cifar10", VQVAE2_CPU, "small (VQVAE2_CPU): vqvae_steps 1,000, then the priors"),
    ("mnist", "mnist", {"vqvae_steps": 5000}, "default: vqvae_steps 5,000, then the priors"),
    ("cifar10", "cifar10", {"vqvae_steps": 5000}, "default: vqvae_steps 5,000, then the priors"),
]


def step_budgets(quick: tuple[int, int], full: tuple[int, int], cpu: tuple[int, int],
                 gpu: tuple[int, int]) -> dict:
    """Both protocols' budgets, each (max_steps, batch_size) per cell, epochs never the limit. The
    smoke budget trains the feature classifier in seconds, the cpu one scores 2,000 samples; the cpu
    and gpu notes state their share of the full budget's training images (steps x batch), computed
    here so that they cannot drift from the numbers."""
    def note(steps: int, batch: int) -> str:
        share = 100 * steps * batch / (full[0] * full[1])
        of_batch = f" of batch {full[1]}" if batch != full[1] else ""
        return f"{steps:,} steps of batch {batch} per cell ({share:g} % of the full budget's {full[0]:,}{of_batch})"

    def budget(steps: int, batch: int, **extra) -> dict:
        return {"epochs": 1000, "max_steps": steps, "batch_size": batch, **extra}

    return {"quick": budget(*quick), "full": budget(*full),
            "smoke": {"metric_options": {"domain_net_steps": 100}},
            "cpu": budget(*cpu, metric_options={"sample_metric_n": 2000},
                          note=note(*cpu) + ", 2,000 samples per score, 5,000-step feature classifiers"),
            "gpu": budget(*gpu, note=note(*gpu))}


def fq_lowers_fid(df) -> list[str]:
    """Zhao et al.'s claim on our cells: FQ-X has a lower FID than X (same dataset, same feature net)."""
    out = []
    for column in [c[:-len(" (ours)")] for c in df.columns if c.startswith("fid [") and c.endswith(" (ours)")]:
        fid = ours(df, column)
        results = []
        for ds, _, _ in GAN_DATASETS:
            for base, fq in PAIRS:
                a, b = f"{ds}-{base}", f"{ds}-{fq}"
                if a in fid and b in fid:
                    results.append((fid[b] < fid[a], f"{b} {fid[b]:.2f} >= {a} {fid[a]:.2f}"))
        if results:
            out.append(verdict(f"Feature quantization lowers FID ({column})", results))
    return out or ["Feature quantization lowers FID: not measured."]


def protocols() -> list[ProtocolSpec]:
    return [
        ProtocolSpec(
            name="fqgan", version="2",
            description="GANs with and without feature quantization in D (Zhao et al. 2020): DCGAN vs FQ-DCGAN "
                        "and StyleGAN vs FQ-StyleGAN on MNIST, CIFAR-10 (and CelebA when present); FID / IS / KID / "
                        "precision-recall, 3 seeds",
            cells=[Cell(f"{ds}-{key}", model, ds, config=dict(config),
                        labels={"dataset": label, "row_group": "ours", "resolution": res, "model": name,
                                "feature_network": "ours: see tags"})
                   for ds, label, res in GAN_DATASETS for key, model, config, name in GAN_CELLS],
            metrics=["fid", "kid", "inception_score", "precision_recall"],
            reference=str(REFERENCES / "fqgan_fid_is.csv"),
            columns={"fid [inception]": "fid", "is [inception]": "inception_score"},
            claims="dgmbench_quantized.protocols:fq_lowers_fid", seeds=(0, 1, 2),
            budgets=step_budgets(quick=(5000, 64), full=(100000, 64), cpu=(500, 64), gpu=(5000, 64)),
            caption="Sample quality with and without feature quantization in the discriminator (FID, KID: lower is "
                    "better; IS, precision, recall: higher). Paper rows: Zhao et al. 2020 (FQ-GAN), BigGAN on "
                    "ImageNet (row_group 1 and 2: the notes' two ImageNet settings, 'Half' and '256K') and StyleGAN on "
                    "FFHQ, FID/IS from Inception features, as in the lecture notes; they stand only beside "
                    "[inception] columns. Our cells use the named CPU sizes (DCGAN_CPU: width 32; STYLEGAN_CPU: "
                    "4 x 64 mapping, fmap_max 64, AdaIN, equalized lr, non-progressive), the gans plugin's DCGAN "
                    "discriminator, and the authors' FQ settings (FQ-DCGAN: every D block, K = 1024, decay 0.8, "
                    "lambda 1; FQ-StyleGAN: the blocks with 16-32 pixel inputs, K = 128, decay 0.8, lambda 0.25; "
                    "the FQ term in D's and G's losses; quantized features not passed on, as in their code). "
                    "v2 (2026-12-04): those FQ settings, the codebook lookup before the EMA update, and "
                    "StyleGAN's equalized learning rate; tables measured under v1 (FQ on D's second-to-last block "
                    "only, K = 64, decay 0.9, no FQ term in G's loss, quantized features passed on) are stale.",
        ),
        ProtocolSpec(
            name="vqvae2", version="2",
            description="Two-level VQ-VAE-2 with gated-PixelCNN priors (Razavi et al. 2019): reconstruction error, "
                        "bits/dim (a bound), codebook usage and sample FID on MNIST and CIFAR-10",
            cells=[Cell(key, "vqvae2", ds, config=dict(config), labels={"dataset": ds, "model": label})
                   for key, ds, config, label in VQ_CELLS],
            metrics=["nll", "recon_mse", "codebook_usage", "training_stages", "fid", "inception_score"],
            values=["vqvae_steps", "prior_steps", "bpd", "nll_is_bound", "recon_mse", "codebook_perplexity_top",
                    "codebook_perplexity_bottom", "codes_used_top", "codes_used_bottom"],
            budgets=step_budgets(quick=(10000, 64), full=(100000, 128), cpu=(2500, 64), gpu=(10000, 128)),
            caption="VQ-VAE-2 (two levels, EMA codebooks, gated-PixelCNN priors trained after the VQ-VAE in the same "
                    "run). bpd is the bound log p(x|c) + log p(c_top) + log p(c_bottom|c_top) with a Gaussian decoder "
                    "on dequantized pixels (nll_is_bound = 1); recon_mse per pixel on [0, 1]; codebook perplexity "
                    "(K = all codes used equally) and the fraction of codes used, on the test set; vqvae_steps and "
                    "prior_steps: the updates each stage really made (a budget shorter than vqvae_steps never "
                    "trains the priors). The bound is loose early on: the Gaussian decoder term costs about "
                    "recon_mse / (2 sigma^2 ln 2) bits/dim with sigma near its initial 0.1, so a barely trained "
                    "model (the smoke budget: 5 VQ-VAE steps, no prior steps) is far above the uniform model's "
                    "8 bits/dim; untrained priors add only log K per code (about 0.16 bits/dim on CIFAR-10). "
                    "The lecture notes have no table for VQ-VAE-2, so there are no paper values. v2 "
                    "(2026-12-04): codes are looked up before the step's EMA update; tables measured under v1 "
                    "are stale.",
        ),
    ]

