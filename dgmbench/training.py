"""The training loop every plugin reuses: devices, seeds, bf16 autocast on CUDA, a checkpoint
after every epoch (and on Ctrl-C), ``--resume``, NaN/inf detection and a progress bar."""
from __future__ import annotations

import contextlib
import errno
import math
import os
import pickle
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import DataSplit
from .errors import DgmbenchError, TrainingDiverged
from .metrics import model_input_for
from .specs import Budget, DatasetSpec


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; ``cpu``, ``cuda`` and ``cuda:N`` are taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DgmbenchError(f"--device {name!r} is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise DgmbenchError(f"--device {name!r}: dgmbench runs on auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DgmbenchError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast_for(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA, nothing on CPU (CPU bf16 is slower than fp32 for these models)."""
    if device.type == "cuda" and enabled:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


@dataclass
class TrainState:
    epoch: int = 0            # completed epochs
    step: int = 0
    images: int = 0           # training examples seen so far, across resumes (for images/s)
    seconds: float = 0.0      # training time spent so far, across resumes
    history: list = field(default_factory=list)  # one dict of mean logs per epoch
    stopped: str = ""         # why training ended early ("time", "steps", "hook")


def save_checkpoint(path: Path, model, optimizers, state: TrainState, record_json: str) -> None:
    """Atomic write (temp file + rename): an interrupted save never corrupts the last checkpoint."""
    payload = {
        "format": "dgmbench-checkpoint-1",
        "record": record_json,
        "model": model.state_dict(),
        "optimizers": [opt.state_dict() for opt in optimizers],
        "epoch": state.epoch, "step": state.step, "seconds": state.seconds, "images": state.images,
        "history": state.history,
        "torch_rng": torch.get_rng_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # a full disk: keep the last checkpoint, leave no partial file
        tmp.unlink(missing_ok=True)
        full = getattr(exc, "errno", None) == errno.ENOSPC or "write" in str(exc).lower()
        why = "no space left on the device" if full else str(exc).splitlines()[0]
        raise DgmbenchError(f"cannot write checkpoint {path}: {why} (the previous checkpoint is kept; "
                            "free some space and continue with --resume)") from None


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DgmbenchError(f"no checkpoint at {path}") from None
    except pickle.UnpicklingError:  # torch's several-line weights_only refusal, in one line
        raise DgmbenchError(f"checkpoint {path} holds objects that are not loaded, for safety (weights_only): "
                            "it is not a dgmbench checkpoint or a plain state dict") from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DgmbenchError(f"checkpoint {path} could not be read ({type(exc).__name__}: {first})") from None


def fit(model, train: DataSplit, dataset: DatasetSpec, budget: Budget, device: torch.device, *,
        checkpoint: Path | None = None, resume: bool = False, record_json: str = "{}",
        on_epoch_end=None, progress: bool = True, seed: int = 0, state: TrainState | None = None) -> TrainState:
    """Train ``model`` with its own ``train_step`` within ``budget``; returns the final state
    (``state``, updated in place when given, so a caller sees the progress of an interrupted run).

    Raises :class:`TrainingDiverged` on a NaN/inf log value. A ``KeyboardInterrupt`` passes
    through; the checkpoint written after the last completed epoch is where ``--resume`` continues.
    """
    model.to(device).train()
    optimizers = model.configure_optimizers(budget.lr)
    state = state if state is not None else TrainState()
    if resume and checkpoint is not None and checkpoint.exists():
        ck = load_checkpoint(checkpoint)
        model.load_state_dict(ck["model"])
        for opt, sd in zip(optimizers, ck["optimizers"]):
            opt.load_state_dict(sd)
        state.epoch, state.step, state.seconds = ck["epoch"], ck["step"], ck["seconds"]
        state.history, state.images = [h for h in ck["history"] if "name" in h], ck.get("images", 0)
        torch.set_rng_state(ck["torch_rng"])
    per_epoch = train.steps_per_epoch(budget.batch_size)
    state.planned_steps = planned_steps(budget, len(train)) if trains_by_steps(model, optimizers) else 0
    state.planned_epochs = -(-state.planned_steps // per_epoch)
    log_every = max(1, budget.log_every)
    eval_every = budget.eval_every or max(1, state.planned_steps // 10)
    autocast = autocast_for(device)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(state.epoch):  # the shuffles a resumed run would have drawn
        torch.randperm(len(train), generator=generator)
    per_epoch = math.ceil(len(train) / budget.batch_size)
    total = per_epoch * budget.epochs if budget.max_steps is None else min(budget.max_steps, per_epoch * budget.epochs)
    bar = tqdm(total=total, initial=min(state.step, total), disable=not progress, unit="step",
               desc="train", dynamic_ncols=True, leave=False)
    try:
        while state.epoch < budget.epochs and not state.stopped:
            start, sums, count = time.perf_counter(), {}, 0
            for x, y in train.batches(budget.batch_size, shuffle=True, generator=generator, device=device,
                                      drop_last=True):
                x = model_input_for(model, dataset, x)
                logs = model.train_step(x, y, optimizers, state.step, autocast)
                values = {k: float(v) for k, v in logs.items()}
                bad = [k for k, v in values.items() if not math.isfinite(v)]
                if bad:
                    raise TrainingDiverged(f"training diverged: {bad[0]} = {values[bad[0]]} at epoch "
                                           f"{state.epoch + 1}, step {state.step + 1} (try a smaller --lr)")
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                state.step += 1
                state.images += len(x)
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                if budget.max_steps is not None and state.step >= budget.max_steps:
                    state.stopped = "steps"
                    break
                if budget.max_seconds is not None and state.seconds + time.perf_counter() - start >= budget.max_seconds:
                    state.stopped = "time"
                    break
            state.seconds += time.perf_counter() - start
            state.epoch += 1
            state.history.append({"epoch": state.epoch, "step": state.step, "seconds": state.seconds,
                                  **{k: v / max(count, 1) for k, v in sums.items()}})
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, optimizers, state, record_json)
            if on_epoch_end is not None and on_epoch_end(state.epoch, state.history[-1]):
                state.stopped = "hook"
    finally:  # on Ctrl-C the last completed epoch is on disk; resume redoes the partial one
        bar.close()
    model.eval()
    return state


def _latest(state: TrainState, prefix: str) -> dict:
    out = {}
    for row in reversed(state.history):
        if row["step"] != state.step:
            break
        if row["name"].startswith(prefix):
            out.setdefault(row["name"][len(prefix):], row["value"])
    return out


def _fit_in_one_call(model, train: DataSplit, dataset: DatasetSpec, device, state: TrainState, evaluate,
                     progress: bool, shown: tuple[str, str], checkpoint: Path | None, record_json: str
                     ) -> TrainState:
    """``model.fit(x, y)`` once on the whole training split (as the model sees it: dequantized or
    binarized), like a scikit-learn estimator; its returned logs are recorded at step 0."""
    start = time.perf_counter()
    x, y = next(train.batches(len(train), device=device))
    with torch.no_grad():
        logs = model.fit(model_input_for(model, dataset, x), y) or {}
    state.seconds += time.perf_counter() - start
    state.epoch, state.planned_epochs, state.images = 1, 1, len(train)
    _record(state, 0, {k: float(v) for k, v in logs.items()}, "train/")
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, [], state, record_json)
    if evaluate is not None:
        values = _held_out(evaluate, model, device)
        _record(state, 0, values)
        if progress and shown[0] in values:
            print(f"fitted in one call on {len(train)} examples; {shown[1]} {values[shown[0]]:.4g}")
    model.eval()
    return state
