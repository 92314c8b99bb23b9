"""Plugin ``tensorboard``: TensorBoard event files for every run, written from dgmbench's event
hooks alone, as any third-party logger would be.

Installed and switched on with ``DGMBENCH_TENSORBOARD=1``, it logs every run into
``<run folder>/tensorboard/`` (``tensorboard --logdir dgmbench-results/runs``):

* the config (the run record as JSON) as text, when the run starts;
* the training scalars every ``log_every`` steps (``--log-every N``, default 50) and at each
  epoch's end (``train/loss``...), and the held-out curve (``test/bpd``...), through the
  ``dgmbench_train_log`` event; under a harness without that event, each epoch's mean logs;
* a grid of ``DGMBENCH_TENSORBOARD_SAMPLES`` samples (default 16; 0: none) each epoch, drawn
  under a forked RNG so that logging never changes the run's numbers;
* the final metric values and the run's status when it ends.

Without ``DGMBENCH_TENSORBOARD=1`` it does nothing (it is installed with the test requirements,
and a sample grid per epoch is not free). The writer is torch's
``SummaryWriter`` (it needs the ``tensorboard`` package, a dependency of this distribution).
"""
from __future__ import annotations

import json
import os

from dgmbench import hookimpl

_writers: dict = {}  # id(record) -> {"writer": SummaryWriter, "step": last step seen, "per_step": bool}


def _enabled() -> bool:
    """Opt-in: installed alongside the other plugins (as in the test requirements) it must not slow
    every run down with a sample grid per epoch."""
    return os.environ.get("DGMBENCH_TENSORBOARD", "").lower() in ("1", "true", "yes", "on")


def _scalars(writer, logs: dict, step: int) -> None:
    for name, value in logs.items():
        if name in ("epoch", "step", "seconds") or not isinstance(value, (int, float)):
            continue
        writer.add_scalar(name if "/" in name else f"train/{name}", float(value), step)


def _sample_grid(writer, model, step: int) -> None:
    """An image grid of fresh samples; the global RNG is restored afterwards (torch.random.fork_rng)."""
    import torch
    from torchvision.utils import make_grid

    n = int(os.environ.get("DGMBENCH_TENSORBOARD_SAMPLES", "16"))
    if n <= 0 or "sample" not in model.capabilities():
        return
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    was_training = model.training
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        model.eval()
        x = model.sample(n).float().cpu()
    model.train(was_training)
    if x.ndim == 4:  # images (N, C, H, W) with values in [0, 1]
        if x.shape[-1] < 32:  # small images (8x8 digits) are enlarged to be seen, as in samples.png
            x = torch.nn.functional.interpolate(x, scale_factor=-(-32 // x.shape[-1]), mode="nearest")
        writer.add_image("samples", make_grid(x.clamp(0, 1), nrow=int(n ** 0.5)), step)


@hookimpl
def dgmbench_run_start(record, model, out_dir):
    if not _enabled():
        return
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
    writer.add_text("config", "```\n" + json.dumps(json.loads(record.to_json()), indent=2) + "\n```", 0)
    _writers[id(record)] = {"writer": writer, "step": 0, "per_step": False}


@hookimpl
def dgmbench_train_log(record, model, step, logs):
    """Scalars as training reads them: every ``log_every`` steps and the held-out points."""
    entry = _writers.get(id(record))
    if entry is not None:
        _scalars(entry["writer"], logs, step)
        entry.update(step=step, per_step=True)


@hookimpl
def dgmbench_epoch_end(record, model, epoch, logs):
    entry = _writers.get(id(record))
    if entry is None:
        return None
    writer, step = entry["writer"], int(logs.get("step", epoch))
    entry["step"] = step
    if not entry["per_step"]:  # without the per-step hook: the epoch's mean logs at its last step
        _scalars(writer, logs, step)
    writer.add_scalar("train/epoch", epoch, step)
    _sample_grid(writer, model, step)
    writer.flush()
    return None  # never asks training to stop


@hookimpl
def dgmbench_run_end(record, results, status):
    entry = _writers.pop(id(record), None)
    if entry is None:
        return
    writer, last = entry["writer"], entry["step"]
    for name, value in (results or {}).items():
        if isinstance(value, (int, float)):
            writer.add_scalar(f"final/{name}", float(value), last)
    writer.add_text("status", status, last)
    writer.close()
