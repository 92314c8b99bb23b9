"""The training loop every plugin reuses: devices, seeds, bf16 autocast on CUDA, a checkpoint
after every epoch (and on Ctrl-C), ``--resume``, NaN/inf detection, a progress bar, and the fast
paths a budget switches on (:data:`dgmbench.plan.FAST_PATHS`, applied by :func:`apply_fast_paths`).

Already on by default: a training split that fits in a quarter of the free device memory is held
on the device (:meth:`dgmbench.data.DataSplit.batches`), and CUDA trains under bf16 autocast
(likelihoods and every metric are evaluated in fp32, outside autocast)."""
from __future__ import annotations

import contextlib
import errno
import os
import pickle
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .data import DataSplit
from .errors import DgmbenchError, TrainingDiverged
from .model import model_input_for
from .plan import fast_paths
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


def apply_fast_paths(model, optimizers: list, device: torch.device, fast) -> Callable:
    """Switch on the fast paths named in ``fast`` (a budget's ``fast``) for this model and its
    optimizers; returns the autocast factory its ``train_step`` gets.

    * ``channels_last``: the model's 4-d weights (and, in :func:`fit`, 4-d inputs) in
      channels-last memory format, which cuDNN's fastest convolutions use; same math, so on a
      CPU the numbers agree with eager to float rounding.
    * ``fused_adam``: every Adam/AdamW steps with the fused kernel (one launch for all
      parameters instead of several per tensor); the same update, to float rounding.
    * ``compile`` (CUDA only; a no-op elsewhere, where inductor would need a C++ toolchain):
      the model's ``loss`` through ``torch.compile(mode="reduce-overhead")``, whose CUDA graphs
      remove the launch overhead that dominates the small steps of MNIST-sized models. A model
      that cannot be compiled trains eagerly, with a warning.
    * ``fp32``: no bf16 autocast on CUDA (it is on otherwise; on a CPU training is fp32 anyway).
    """
    fast = fast_paths(fast)
    if "channels_last" in fast:
        model.to(memory_format=torch.channels_last)
    if "fused_adam" in fast:
        for opt in optimizers:
            if isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
                opt.defaults.update(fused=True, foreach=False)
                for group in opt.param_groups:
                    group.update(fused=True, foreach=False)
    if "compile" in fast and device.type == "cuda" and "loss" not in vars(model):
        model.loss = _compiled(model.loss)
    return autocast_for(device, enabled="fp32" not in fast)


def _compiled(loss):
    """``loss`` through torch.compile's CUDA graphs, falling back to ``loss`` itself (for good)
    when compilation fails. The result is cloned: a CUDA graph's output is overwritten by its
    next replay, and the training logs keep each step's loss until they are read."""
    compiled = torch.compile(loss, mode="reduce-overhead")
    current = [compiled]

    def call(*args, **kwargs):
        try:
            torch.compiler.cudagraph_mark_step_begin()
            out = current[0](*args, **kwargs)
        except Exception as exc:
            if current[0] is loss:
                raise
            print(f"warning: --fast compile: the model's loss cannot be compiled ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0] if str(exc) else ''}); training eagerly")
            current[0] = loss
            return loss(*args, **kwargs)
        return out.clone() if torch.is_tensor(out) else out

    return call


@dataclass
class TrainState:
    epoch: int = 0            # passes over the training split ended (the last may end early at the planned steps)
    step: int = 0             # optimizer steps taken
    images: int = 0           # training examples fed so far, across resumes (for images/s); as every
                              # epoch is a full pass, min(N, images) is the number of distinct ones
    seconds: float = 0.0      # training time spent so far, across resumes (held-out evaluation excluded)
    history: list = field(default_factory=list)  # {"step", "name", "value"} rows: train logs, held-out points
    planned_steps: int = 0    # the budget's work: min(max_steps, epochs x ceil(N / batch_size))
    planned_epochs: int = 0
    stopped: str = ""         # what ended training before the planned steps ("--max-seconds 45"); "" if complete

    def stop_message(self) -> str:
        """One line for the progress bar, the printed row and the store; "" for a complete run."""
        if not self.stopped:
            return ""
        return f"stopped by {self.stopped} after {self.step} of {self.planned_steps} steps"


def planned_steps(budget: Budget, n_train: int) -> int:
    """The steps a budget plans on ``n_train`` examples: every epoch is ceil(N / batch) full batches
    (the shuffle wraps to fill the last one), capped at ``max_steps``."""
    total = budget.epochs * -(-n_train // budget.batch_size)
    return total if budget.max_steps is None else min(budget.max_steps, total)


class LogBuffer:
    """Training logs kept where ``train_step`` made them (the device) between reads, so a step never
    waits for the device: :meth:`read` copies them to the host once, checks them for NaN/inf
    (naming the first bad step) and returns each name's mean since the last read."""

    def __init__(self):
        self.pending: dict[str, list] = {}   # name -> [(step, 0-d tensor)]
        self.epoch_sums: dict[str, list] = {}  # name -> [sum, count] since the epoch began

    def add(self, step: int, logs: dict) -> None:
        for name, value in logs.items():
            value = value.detach().float().reshape(()) if torch.is_tensor(value) else torch.tensor(float(value))
            self.pending.setdefault(name, []).append((step, value))

    def read(self, per_epoch: int) -> dict[str, float]:
        means = {}
        for name, pairs in self.pending.items():
            where = pairs[0][1].device
            values = torch.stack([v.to(where) for _, v in pairs]).double().cpu()  # the one sync per read
            bad = (~torch.isfinite(values)).nonzero()
            if len(bad):
                i = int(bad[0])
                step = pairs[i][0]
                raise TrainingDiverged(f"training diverged: {name} = {float(values[i])} at step {step} (epoch "
                                       f"{(step - 1) // per_epoch + 1}) (try a smaller --lr)")
            means[name] = float(values.mean())
            total = self.epoch_sums.setdefault(name, [0.0, 0])
            total[0] += float(values.sum())
            total[1] += len(values)
        self.pending = {}
        return means

    def epoch_means(self) -> dict[str, float]:
        out = {name: s / max(n, 1) for name, (s, n) in self.epoch_sums.items()}
        self.epoch_sums = {}
        return out


def has_fit(model) -> bool:
    """Whether the model fits itself in one call (:meth:`dgmbench.model.Model.fit`)."""
    from .model import Model

    return type(model).fit is not Model.fit


def trains_by_steps(model, optimizers) -> bool:
    """A model with no optimizer and the default ``train_step`` has nothing to train."""
    from .model import Model

    return bool(optimizers) or type(model).train_step is not Model.train_step


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
        why = "disk full (no space left on the device)" if full else str(exc).splitlines()[0]
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


def nonfinite_weights(model) -> list[str]:
    """The names of the model's floating-point parameters and buffers holding NaN or inf."""
    return [name for name, t in [*model.named_parameters(), *model.named_buffers()]
            if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def _held_out(evaluate, model, device: torch.device) -> dict:
    """One held-out point, without touching the training's random streams or mode; none for a
    model whose weights are not finite (the run then ends ``partial``, see dgmbench.run)."""
    if nonfinite_weights(model):
        return {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model.eval()
        try:
            return evaluate()
        finally:
            model.train()


def _record(state: TrainState, step: int, values: dict, prefix: str = "") -> None:
    state.history.extend({"step": step, "name": prefix + k, "value": float(v)} for k, v in values.items())


def _log(state: TrainState, values: dict, on_log) -> None:
    """Training logs just read: into the history (``train/<name>``) and to ``on_log(step, values)``."""
    _record(state, state.step, values, "train/")
    if on_log is not None:
        on_log(state.step, {f"train/{k}": v for k, v in values.items()})


@dataclass
class TrainingRun:
    """What :func:`fit` needs to know about the run it trains (a :class:`dgmbench.run.Run` has the
    same attributes): the data's spec, the budget, the device, the seed of the shuffles, and where
    the checkpoint goes (``None``: no checkpoint) and whether to continue from it."""

    dataset: DatasetSpec
    budget: Budget
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    checkpoint: Path | None = None
    resume: bool = False
    record_json: str = "{}"


@dataclass
class Hooks:
    """What :func:`fit` calls besides the model: ``log(step, values)`` sees every value read (the
    training logs, and the held-out ones); ``epoch_end(epoch, logs)`` returns True to stop;
    ``evaluate()`` returns held-out values (e.g. ``{"test/bpd": ...}``), run every ``eval_every``
    steps and at the end; ``progress`` shows a progress bar, with the held-out value named
    ``shown[0]`` under the label ``shown[1]``."""

    log: Callable[[int, dict], None] | None = None
    epoch_end: Callable[[int, dict], bool] | None = None
    evaluate: Callable[[], dict] | None = None
    progress: bool = True
    shown: tuple[str, str] = ("", "")


def fit(model, train: DataSplit, run: TrainingRun, hooks: Hooks | None = None,
        state: TrainState | None = None) -> TrainState:
    """Train ``model`` on ``train`` within ``run.budget`` and return the final state (``state``,
    updated in place when given, so a caller sees the progress of an interrupted run).

    A model with a ``fit`` method is fitted in one call on the whole training split; any other
    takes ``planned_steps`` calls of its ``train_step``. Logs are read every ``budget.log_every``
    steps and at each epoch's end. Raises :class:`TrainingDiverged`, naming the step, when a log
    turns NaN/inf (within ``log_every`` steps). ``--max-seconds`` ends training early with
    ``state.stopped`` set. A ``KeyboardInterrupt`` passes through; the checkpoint of the last
    completed epoch is where ``run.resume`` continues.
    """
    hooks = hooks or Hooks()
    budget, device, checkpoint = run.budget, run.device, run.checkpoint
    model.to(device).train()
    state = state if state is not None else TrainState()
    if has_fit(model):
        return _fit_in_one_call(model, train, run, hooks, state)
    optimizers = list(model.configure_optimizers(budget.lr) or [])
    if run.resume:
        _resume(model, optimizers, state, checkpoint)
    distributed.check_batch_size(budget.batch_size)
    distributed.prepare(model, optimizers)  # under torchrun: rank 0's weights; gradients averaged per step
    per_epoch = train.steps_per_epoch(budget.batch_size)
    state.planned_steps = planned_steps(budget, len(train)) if trains_by_steps(model, optimizers) else 0
    state.planned_epochs = -(-state.planned_steps // per_epoch)
    log_every = max(1, budget.log_every)
    eval_every = budget.eval_every or max(1, state.planned_steps // 10)
    autocast = apply_fast_paths(model, optimizers, device, budget.fast)
    channels_last = "channels_last" in fast_paths(budget.fast)
    generator = torch.Generator().manual_seed(run.seed)
    for _ in range(state.epoch):  # the shuffles a resumed run would have drawn
        torch.randperm(len(train), generator=generator)
    logs, postfix = LogBuffer(), {}
    bar = tqdm(total=state.planned_steps, initial=min(state.step, state.planned_steps), disable=not hooks.progress,
               unit="step", desc="train", dynamic_ncols=True, leave=False)

    evaluated_at = [None]

    def held_out_point():
        if hooks.evaluate is not None and evaluated_at[0] != state.step:
            evaluated_at[0] = state.step
            values = _held_out(hooks.evaluate, model, device)
            _record(state, state.step, values)
            if hooks.log is not None:
                hooks.log(state.step, values)
            if hooks.shown[0] in values:
                postfix[hooks.shown[1]] = f"{values[hooks.shown[0]]:.4g}"

    try:
        while state.step < state.planned_steps and not state.stopped:
            start, eval_seconds = time.perf_counter(), 0.0
            for x, y in train.batches(budget.batch_size, shuffle=True, generator=generator, device=device,
                                      wrap=True):
                x = model_input_for(model, run.dataset, x)
                x, y = distributed.shard(x, y)  # under torchrun: this process's slice of the global batch
                if channels_last and x.ndim == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                logs.add(state.step + 1, model.train_step(x, y, optimizers, state.step, autocast))
                state.step += 1
                state.images += len(x) * distributed.world_size()
                bar.update(1)
                if state.step % log_every == 0:
                    _log(state, logs.read(per_epoch), hooks.log)
                    postfix.update({k: f"{v:.4g}" for k, v in _latest(state, "train/").items()})
                    bar.set_postfix(postfix, refresh=False)
                if state.step >= state.planned_steps:
                    break
                if state.step % eval_every == 0:
                    tick = time.perf_counter()
                    held_out_point()
                    eval_seconds += time.perf_counter() - tick
                spent = state.seconds + time.perf_counter() - start - eval_seconds
                if budget.max_seconds is not None and distributed.any_rank(spent >= budget.max_seconds):
                    state.stopped = f"--max-seconds {budget.max_seconds:g}"
                    break
            if logs.pending:  # the epoch's last steps, read at its end
                _log(state, logs.read(per_epoch), hooks.log)
            state.seconds += time.perf_counter() - start - eval_seconds
            state.epoch += 1
            epoch_logs = {"epoch": state.epoch, "step": state.step, "seconds": state.seconds, **logs.epoch_means()}
            if checkpoint is not None and distributed.is_main():
                save_checkpoint(checkpoint, model, optimizers, state, run.record_json)
            if hooks.epoch_end is not None and distributed.any_rank(bool(hooks.epoch_end(state.epoch, epoch_logs))) \
                    and state.step < state.planned_steps:
                state.stopped = "a dgmbench_epoch_end hook"
        held_out_point()
        if state.stopped:
            bar.write(state.stop_message())
    finally:  # on Ctrl-C the last completed epoch is on disk; resume redoes the partial one
        bar.close()
    distributed.finish(model)  # every process evaluates rank 0's weights and buffers
    model.eval()
    return state


def _resume(model, optimizers, state: TrainState, checkpoint: Path | None) -> None:
    """Continue from the checkpoint, when there is one. Under torchrun only rank 0's run folder
    holds one: rank 0 reads it and every rank continues from it (or every rank raises its error)."""
    ck = None
    if distributed.is_main() and checkpoint is not None and checkpoint.exists():
        try:
            ck = load_checkpoint(checkpoint)
        except DgmbenchError as exc:
            ck = exc
    ck = distributed.from_rank0(ck)
    if isinstance(ck, DgmbenchError):
        raise ck
    if ck is None:
        return
    try:
        model.load_state_dict(ck["model"])
        for opt, sd in zip(optimizers, ck["optimizers"]):
            opt.load_state_dict(sd)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # torch's mismatch message runs to many lines
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DgmbenchError(f"checkpoint {checkpoint} does not fit this model ({first}); another model or config "
                            "wrote it: move it aside, or run without --resume") from None
    state.epoch, state.step, state.seconds = ck["epoch"], ck["step"], ck["seconds"]
    state.history, state.images = [h for h in ck["history"] if "name" in h], ck.get("images", 0)
    torch.set_rng_state(ck["torch_rng"])


def _latest(state: TrainState, prefix: str) -> dict:
    out = {}
    for row in reversed(state.history):
        if row["step"] != state.step:
            break
        if row["name"].startswith(prefix):
            out.setdefault(row["name"][len(prefix):], row["value"])
    return out


def _fit_in_one_call(model, train: DataSplit, run: TrainingRun, hooks: Hooks, state: TrainState) -> TrainState:
    """``model.fit(x, y)`` once on the whole training split (as the model sees it: dequantized or
    binarized), like a scikit-learn estimator; its returned logs are recorded at step 0."""
    start = time.perf_counter()
    x, y = next(train.batches(len(train), device=run.device))
    with torch.no_grad():
        logs = model.fit(model_input_for(model, run.dataset, x), y) or {}
    state.seconds += time.perf_counter() - start
    state.epoch, state.planned_epochs, state.images = 1, 1, len(train)
    _record(state, 0, {k: float(v) for k, v in logs.items()}, "train/")
    if run.checkpoint is not None and distributed.is_main():
        save_checkpoint(run.checkpoint, model, [], state, run.record_json)
    if hooks.evaluate is not None:
        values = _held_out(hooks.evaluate, model, run.device)
        _record(state, 0, values)
        if hooks.progress and hooks.shown[0] in values:
            print(f"fitted in one call on {len(train)} examples; {hooks.shown[1]} {values[hooks.shown[0]]:.4g}")
    model.eval()
    return state
