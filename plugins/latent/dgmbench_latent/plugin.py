"""Plugin ``latent``: the latent-variable models, the posterior-collapse toy data, the
``lossy_code`` metric and the ``vlae`` protocol. Light: no torch import at module level (models
are named by ``module:attribute`` strings).

Models: ``vae`` and ``iwae`` (Burda et al. 2016), ``iaf-vae`` and ``iaf-hierarchical-vae`` (Kingma et
al. 2016), ``af-vae`` and ``vlae`` (Chen et al. 2017), ``draw`` (Gregor et al. 2015), ``conv-draw``
(Gregor et al. 2016) and ``dvae`` (Rolfe 2016). The event hooks drive the VAE/IWAE learning-rate
schedule and write their reconstruction PNGs.
"""
from __future__ import annotations

from dgmbench import ConfigKey, DatasetSpec, MetricSpec, ModelSpec, hookimpl

PAPER = "Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, ICLR"
CAPABILITIES = ["elbo", "iw_bound", "sample", "encode"]
#: the config keys the VAE/IWAE read (dgmbench_latent.models.VAE)
CONFIG = {"layers": ConfigKey(int, choices=(1, 2)), "k": ConfigKey(int, min=1), "latent": (int, list),
          "hidden": list, "decoder": ConfigKey(str, choices=("auto", "bernoulli", "gaussian")),
          "sample": ConfigKey(str, choices=("mean", "draw")),
          "lr_schedule": ConfigKey(str, choices=("burda", "constant")), "encode_samples": ConfigKey(int, min=1)}

#: the paper's optimizer schedule is in the model (Adam eps 1e-4, lr 1e-3 * 10^(-i/7) for 3^i epochs)
BUDGETS = {
    "quick": {"epochs": 100, "batch_size": 100, "lr": 1e-3},
    "full": {"epochs": 3280, "batch_size": 20, "lr": 1e-3},
}

# Config declarations of the newer models (their modules import torch, so they are spelled here).
RESNET_VAE_CONFIG = {"preset": str, "latent": int, "channels": int, "blocks": int,
                     "backbone": ConfigKey(str, choices=("resnet", "densenet")), "hidden": int,
                     "iaf_steps": int, "made_hidden": list, "prior": str, "af_steps": int, "decoder": str,
                     "window": int, "pixel_channels": int, "pixel_layers": int}
IAF_HIERARCHY_CONFIG = {"preset": ConfigKey(str, choices=("paper", "small")), "h_size": ConfigKey(int, min=1),
                        "z_size": ConfigKey(int, min=1), "depth": ConfigKey(int, min=1),
                        "num_blocks": ConfigKey(int, min=1), "kl_min": ConfigKey(float, min=0.0)}
DRAW_CONFIG = {"preset": str, "units": int, "steps": int, "latent": int, "read_n": int, "write_n": int}
CONV_DRAW_CONFIG = {"preset": str, "units": int, "steps": int, "latent": int}
DVAE_CONFIG = {"preset": str, "rbm_units": int, "hidden": list, "beta": float, "chains": int, "gibbs_steps": int,
               "ais_steps": int, "ais_chains": int, "exact_logz_units": int}


@hookimpl
def dgmbench_models():
    iw = ["elbo", "iw_bound", "sample", "encode"]
    return [
        ModelSpec("vae", "dgmbench_latent.models:VAE.build", capabilities=CAPABILITIES,
                  description="VAE (k-sample ELBO), 1 or 2 stochastic layers, Bernoulli or Gaussian decoder",
                  defaults={"layers": 1, "k": 1}, budgets=BUDGETS, paper=PAPER, config=CONFIG),
        ModelSpec("iwae", "dgmbench_latent.models:IWAE.build", capabilities=CAPABILITIES,
                  description="IWAE (importance-weighted bound), 1 or 2 stochastic layers",
                  defaults={"layers": 1, "k": 5}, budgets=BUDGETS, paper=PAPER, config=CONFIG),
        ModelSpec("iaf-vae", "dgmbench_latent.iaf_vae:build", capabilities=iw,
                  description="ResNet VAE with an inverse autoregressive flow posterior (MADE steps)",
                  paper="Kingma et al. 2016, Improved Variational Inference with Inverse Autoregressive Flow",
                  config=RESNET_VAE_CONFIG),
        ModelSpec("iaf-hierarchical-vae", "dgmbench_latent.iaf_hierarchy:build", capabilities=["elbo", "iw_bound",
                                                                                              "sample"],
                  description="ResNet VAE with bidirectional inference and IAF posteriors (the IAF paper's CIFAR-10 "
                              "model)",
                  paper="Kingma et al. 2016, Improved Variational Inference with Inverse Autoregressive Flow, Sec. 6",
                  config=IAF_HIERARCHY_CONFIG),
        ModelSpec("af-vae", "dgmbench_latent.vlae:build_af_vae", capabilities=iw,
                  description="ResNet VAE with an autoregressive-flow prior and a factorized decoder",
                  paper="Chen et al. 2017, Variational Lossy Autoencoder (the AF VAE row)", config=RESNET_VAE_CONFIG),
        ModelSpec("vlae", "dgmbench_latent.vlae:build_vlae", capabilities=iw,
                  description="Variational Lossy Autoencoder: AF prior, PixelCNN decoder over a small window",
                  paper="Chen et al. 2017, Variational Lossy Autoencoder", config=RESNET_VAE_CONFIG),
        ModelSpec("draw", "dgmbench_latent.draw:DRAW.build", capabilities=["elbo", "sample"],
                  description="DRAW: LSTM encoder/decoder, Gaussian read/write attention; the bound is reported",
                  paper="Gregor et al. 2015, DRAW: A Recurrent Neural Network for Image Generation",
                  config=DRAW_CONFIG),
        ModelSpec("conv-draw", "dgmbench_latent.conv_draw:ConvDRAW.build", capabilities=["elbo", "sample"],
                  description="Convolutional DRAW: conv-LSTMs, learnt prior per step; the bound is reported",
                  paper="Gregor et al. 2016, Towards Conceptual Compression", config=CONV_DRAW_CONFIG),
        ModelSpec("dvae", "dgmbench_latent.dvae:DiscreteVAE.build", capabilities=iw,
                  description="discrete VAE: RBM prior over binary latents, spike-and-exponential smoothing",
                  paper="Rolfe 2016, Discrete Variational Autoencoders", config=DVAE_CONFIG),
    ]


@hookimpl
def dgmbench_datasets():
    load = "dgmbench_latent.toy:load_gaussian"
    return [DatasetSpec(f"gaussian-{kind}", load, (2,), levels=None, options={"covariance_kind": kind},
                        description=f"2-D Gaussian, {words} covariance (posterior-collapse toy example)")
            for kind, words in (("diag", "diagonal"), ("full", "non-diagonal (rho = 0.9)"))]


@hookimpl
def dgmbench_metrics():
    return [MetricSpec("lossy_code", "dgmbench_latent.lossy:lossy_code", requires=[["encode"]],
                       lower_is_better=False,
                       description="class agreement of reconstructions from the code (domain classifier), "
                                   "pixel error and resampled-pixel error (VLAE's lossy code)")]


@hookimpl
def dgmbench_protocols():
    from .protocols import protocols

    return protocols()


# -- event hooks: the VAE/IWAE learning-rate schedule and reconstruction PNGs ----------------------
_RUNS: dict = {}  # id(record) -> (model, out_dir)


@hookimpl
def dgmbench_run_start(record, model, out_dir):
    if hasattr(model, "save_artifacts"):
        _RUNS[id(record)] = (model, out_dir)


@hookimpl
def dgmbench_epoch_end(record, model, epoch, logs):
    if hasattr(model, "set_epoch") and hasattr(model, "save_artifacts"):
        model.set_epoch(epoch)


@hookimpl
def dgmbench_run_end(record, results, status):
    model, out_dir = _RUNS.pop(id(record), (None, None))
    if model is not None and status == "ok":
        model.save_artifacts(out_dir)
