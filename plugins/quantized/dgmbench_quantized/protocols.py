"""Protocols ``fqgan`` (GANs with and without feature quantization in D) and ``vqvae2``; light (no torch).

Both use small widths (they train under a CPU budget; a GPU run of the same cells only changes
the budget). ``fqgan``'s paper values (Zhao et al. 2020: BigGAN / FQ-BigGAN on ImageNet, StyleGAN /
FQ-StyleGAN on FFHQ, FID and IS from Inception features) stand in their own rows, with their
dataset and feature network, beside the ``[inception]`` columns only; our cells are CIFAR-10,
MNIST and CelebA (when present), scored with whatever feature network the run used (the tag in
each column name).
"""
from __future__ import annotations

import math

from dgmbench import Cell, ProtocolSpec, hookimpl

GAN_DATASETS = [("mnist", "MNIST", 28), ("cifar10", "CIFAR-10", 32), ("celeba", "CelebA", 64)]
SMALL_DCGAN = {"width": 32}
SMALL_STYLEGAN = {"fmap_base": 512, "fmap_max": 64, "z_dim": 64, "w_dim": 64, "mapping_layers": 4, "width": 32}
GAN_CELLS = [  # (key, model, config, label); the FQ twins differ from their baselines only by FQ in D
    ("dcgan", "nsgan", SMALL_DCGAN, "DCGAN"),
    ("fq-dcgan", "fqgan", SMALL_DCGAN, "FQ-DCGAN"),
    ("stylegan", "stylegan", SMALL_STYLEGAN, "StyleGAN"),
    ("fq-stylegan", "fq-stylegan", SMALL_STYLEGAN, "FQ-StyleGAN"),
]
PAIRS = [("dcgan", "fq-dcgan"), ("stylegan", "fq-stylegan")]

SMALL_VQVAE2 = {"channels": 32, "res_blocks": 1, "embed_dim": 16, "codes": 64, "prior_hidden": 16, "prior_layers": 4,
                "vqvae_steps": 300}
VQ_CELLS = [  # (key, dataset, config, label)
    ("mnist-small", "mnist", SMALL_VQVAE2, "small: 300 VQ-VAE steps, then the priors"),
    ("cifar10-small", "cifar10", SMALL_VQVAE2, "small: 300 VQ-VAE steps, then the priors"),
    ("mnist", "mnist", {"vqvae_steps": 5000}, "default: 5,000 VQ-VAE steps, then the priors"),
    ("cifar10", "cifar10", {"vqvae_steps": 5000}, "default: 5,000 VQ-VAE steps, then the priors"),
]


def _ours(df, column: str) -> dict:
    """cell -> measured mean of a leaderboard column (``"<column> (ours)"``)."""
    col = f"{column} (ours)"
    if col not in df:
        return {}
    return {c: float(v) for c, v in zip(df["cell"], df[col])
            if isinstance(c, str) and v is not None and not (isinstance(v, float) and math.isnan(v))}


def fq_lowers_fid(df) -> list[str]:
    """Zhao et al.'s claim on our cells: FQ-X has a lower FID than X (same dataset, same feature net)."""
    out = []
    for column in [c[:-len(" (ours)")] for c in df.columns if c.startswith("fid [") and c.endswith(" (ours)")]:
        fid = _ours(df, column)
        results = []
        for ds, _, _ in GAN_DATASETS:
            for base, fq in PAIRS:
                a, b = f"{ds}-{base}", f"{ds}-{fq}"
                if a in fid and b in fid:
                    results.append((fid[b] < fid[a], f"{b} {fid[b]:.2f} >= {a} {fid[a]:.2f}"))
        if not results:
            continue
        failed = [why for ok, why in results if not ok]
        line = (f"Feature quantization lowers FID ({column}): holds in {len(results) - len(failed)} of "
                f"{len(results)} measured comparisons")
        out.append(line + (f" (fails: {'; '.join(failed)})." if failed else "."))
    return out or ["Feature quantization lowers FID: not measured."]


def protocols() -> list[ProtocolSpec]:
    return [
        ProtocolSpec(
            name="fqgan", version="1",
            description="GANs with and without feature quantization in D (Zhao et al. 2020): DCGAN vs FQ-DCGAN "
                        "and StyleGAN vs FQ-StyleGAN on MNIST, CIFAR-10 (and CelebA when present); FID / IS / KID / "
                        "precision-recall, 3 seeds",
            cells=[Cell(f"{ds}-{key}", model, ds, config=dict(config),
                        labels={"dataset": label, "row_group": "ours", "resolution": res, "model": name,
                                "feature_network": "ours: see tags"})
                   for ds, label, res in GAN_DATASETS for key, model, config, name in GAN_CELLS],
            metrics=["fid", "kid", "inception_score", "precision_recall"],
            reference="fqgan_fid_is.csv", columns={"fid [inception]": "fid", "is [inception]": "inception_score"},
            claims="dgmbench_quantized.protocols:fq_lowers_fid", seeds=(0, 1, 2),
            budgets={"quick": {"epochs": 1000, "max_steps": 5000, "batch_size": 64},
                     "full": {"epochs": 1000, "max_steps": 100000, "batch_size": 64}},
            caption="Sample quality with and without feature quantization in the discriminator (FID, KID: lower is "
                    "better; IS, precision, recall: higher). Paper rows: Zhao et al. 2020 (FQ-GAN), BigGAN on "
                    "ImageNet (row_group 1 and 2: the notes' two ImageNet settings, 'Half' and '256K') and StyleGAN on "
                    "FFHQ, FID/IS from Inception features, as in the lecture notes; they stand only beside "
                    "[inception] columns. Our cells use small widths (DCGAN width 32; StyleGAN "
                    "fmap_max 64, z/w 64, AdaIN, non-progressive) and the gans plugin's DCGAN discriminator.",
        ),
        ProtocolSpec(
            name="vqvae2", version="1",
            description="Two-level VQ-VAE-2 with gated-PixelCNN priors (Razavi et al. 2019): reconstruction error, "
                        "bits/dim (a bound), codebook usage and sample FID on MNIST and CIFAR-10",
            cells=[Cell(key, "vqvae2", ds, config=dict(config), labels={"dataset": ds, "model": label})
                   for key, ds, config, label in VQ_CELLS],
            metrics=["nll", "recon_mse", "codebook_usage", "fid", "inception_score"],
            values=["bpd", "nll_is_bound", "recon_mse", "codebook_perplexity_top", "codebook_perplexity_bottom",
                    "codes_used_top", "codes_used_bottom"],
            budgets={"quick": {"epochs": 1000, "max_steps": 10000, "batch_size": 64},
                     "full": {"epochs": 1000, "max_steps": 100000, "batch_size": 128}},
            caption="VQ-VAE-2 (two levels, EMA codebooks, gated-PixelCNN priors trained after the VQ-VAE in the same "
                    "run). bpd is the bound log p(x|c) + log p(c_top) + log p(c_bottom|c_top) with a Gaussian decoder "
                    "on dequantized pixels (nll_is_bound = 1); recon_mse per pixel on [0, 1]; codebook perplexity "
                    "(K = all codes used equally) and the fraction of codes used, on the test set. The lecture notes "
                    "have no table for VQ-VAE-2, so there are no paper values.",
        ),
    ]


@hookimpl
def dgmbench_protocols():
    return protocols()
