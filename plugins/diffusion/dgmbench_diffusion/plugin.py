"""The plugin module (light: no torch import): ``deep-diffusion`` and ``ddpm``."""
from dgmbench import ModelSpec, hookimpl

CAPS = ["elbo", "sample"]
SCHEDULE = {"size": str, "timesteps": int, "beta_start": float, "beta_end": float, "bound_timesteps": int}


@hookimpl
def dgmbench_models():
    return [
        ModelSpec(
            "ddpm", "dgmbench_diffusion.ddpm:DDPM.build", CAPS,
            description="DDPM: Gaussian diffusion, eps-prediction U-Net, L_simple; bound on the discrete NLL",
            defaults={"size": "auto", "objective": "simple", "bound_timesteps": 0},
            config={**SCHEDULE, "objective": str, "channels": int, "mult": list, "res_blocks": int,
                    "attn_resolutions": list, "dropout": float},
            paper="Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models"),
        ModelSpec(
            "deep-diffusion", "dgmbench_diffusion.deep_diffusion:DeepDiffusion.build", CAPS,
            description="Deep diffusion: learned reverse mean and variance, multi-scale conv + temporal bumps, bound K",
            defaults={"size": "auto", "bound_timesteps": 0},
            config={**SCHEDULE, "channels": int, "scales": int, "dense_layers": int, "basis": int},
            paper="Sohl-Dickstein, Weiss, Maheswaranathan & Ganguli 2015, Deep Unsupervised Learning using "
                  "Nonequilibrium Thermodynamics"),
    ]
