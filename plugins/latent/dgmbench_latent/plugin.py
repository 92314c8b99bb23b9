"""What the ``vae`` and ``iwae`` plugin modules share: budgets, paper note, and the event-hook
helpers. Light: no torch import at module level."""
from __future__ import annotations

PAPER = "Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, ICLR"
CAPABILITIES = ["elbo", "iw_bound", "sample", "encode"]
#: the config keys the VAE/IWAE read (dgmbench_latent.models.VAE)
CONFIG = {"layers": int, "k": int, "latent": (int, list), "hidden": list, "decoder": str, "sample": str,
          "lr_schedule": str, "encode_samples": int}

#: the paper's optimizer schedule is in the model (Adam eps 1e-4, lr 1e-3 * 10^(-i/7) for 3^i epochs)
BUDGETS = {
    "quick": {"epochs": 100, "batch_size": 100, "lr": 1e-3},
    "full": {"epochs": 3280, "batch_size": 20, "lr": 1e-3},
}

_RUNS: dict = {}  # id(record) -> (model, out_dir), for the vae module's event hooks


def run_start(record, model, out_dir) -> None:
    if hasattr(model, "save_artifacts"):
        _RUNS[id(record)] = (model, out_dir)


def epoch_end(model, epoch) -> None:
    if hasattr(model, "set_epoch") and hasattr(model, "save_artifacts"):
        model.set_epoch(epoch)


def run_end(record, status) -> None:
    model, out_dir = _RUNS.pop(id(record), (None, None))
    if model is not None and status == "ok":
        model.save_artifacts(out_dir)
