"""What one training step costs: memory, time, parameters.

``train_memory`` measures one ``train_step`` at batch size ``memory_batch`` (128) on a copy of
the model (the trained model is not touched):

* ``saved_mib``: on every device, the peak over the step of the bytes autograd holds for backward
  -- every tensor a forward op (or a custom ``autograd.Function``'s ``save_for_backward``) saves is
  seen through ``torch.autograd.graph.saved_tensors_hooks``; it counts while the graph node that
  saved it is alive, distinct storages once, model parameters not at all. A network that
  recomputes activations in its backward (RevNet) holds little here; one that keeps them in Python
  attributes instead of saving them would escape the count, which the reversible plugin's tests
  rule out for its own networks.
* ``cuda_peak_mib`` (CUDA only): ``torch.cuda.max_memory_allocated`` during the step, minus what
  was allocated before it (model, optimizer state, batch).

``throughput``: training images per second over ``throughput_steps`` (3) steps at ``memory_batch``,
after one warm-up step on CUDA. ``parameters``: the number of trainable parameters.
"""
from __future__ import annotations

import copy
import time

import torch

from ..training import autocast_for


class SavedTensorMeter:
    """Context manager: the live and peak bytes of tensors saved for backward inside it.

    ``exclude`` holds tensors (the parameters) whose storage is never counted."""

    def __init__(self, exclude=()):
        self.skip = {t.untyped_storage().data_ptr() for t in exclude}
        self.live: dict[int, list] = {}  # storage pointer -> [bytes, references]
        self.bytes = self.peak = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    class _Handle:
        __slots__ = ("tensor", "key", "meter")

        def __init__(self, tensor, key, meter):
            self.tensor, self.key, self.meter = tensor, key, meter

        def __del__(self):
            if self.key is not None:
                self.meter._release(self.key)

    def _pack(self, t: torch.Tensor):
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key in self.skip or storage.nbytes() == 0:
            return SavedTensorMeter._Handle(t, None, self)
        entry = self.live.setdefault(key, [storage.nbytes(), 0])
        if entry[1] == 0:
            self.bytes += entry[0]
            self.peak = max(self.peak, self.bytes)
        entry[1] += 1
        return SavedTensorMeter._Handle(t, key, self)

    @staticmethod
    def _unpack(handle):
        return handle.tensor

    def _release(self, key):
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.bytes -= entry[0]
            del self.live[key]

    def __enter__(self):
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        return self._hooks.__exit__(*exc)


def one_batch(ctx, n: int):
    """n test examples (repeated if the test split is smaller) and their labels, on the device."""
    x, y = ctx.test.x, ctx.test.y
    reps = -(-n // len(x))
    x = x.repeat(reps, *[1] * (x.ndim - 1))[:n]
    y = None if y is None else y.repeat(reps)[:n].to(ctx.device)
    from . import model_input_for

    return model_input_for(ctx.model, ctx.dataset, x.to(ctx.device), ctx.generator(7)), y


def _copy_for_training(ctx):
    net = copy.deepcopy(ctx.model).to(ctx.device).train()
    return net, net.configure_optimizers(1e-3)


def step_memory(model, x, y, device, optimizers=None) -> dict:
    """Saved-for-backward bytes (peak) and, on CUDA, the allocator's peak of one train_step."""
    optimizers = optimizers if optimizers is not None else model.configure_optimizers(1e-3)
    autocast = autocast_for(torch.device(device) if isinstance(device, str) else device)
    cuda = torch.device(device).type == "cuda" if isinstance(device, str) else device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    with SavedTensorMeter(exclude=list(model.parameters())) as meter:
        model.train_step(x, y, optimizers, 0, autocast)
    out = {"saved_mib": meter.peak / 2 ** 20}
    if cuda:
        torch.cuda.synchronize(device)
        out["cuda_peak_mib"] = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20
    return out


def train_memory(ctx) -> dict:
    n = int(ctx.options.get("memory_batch", 128))
    net, opts = _copy_for_training(ctx)
    x, y = one_batch(ctx, n)
    return {**step_memory(net, x, y, ctx.device, opts), "memory_batch": float(n)}


def throughput(ctx) -> dict:
    n, steps = int(ctx.options.get("memory_batch", 128)), int(ctx.options.get("throughput_steps", 3))
    net, opts = _copy_for_training(ctx)
    x, y = one_batch(ctx, n)
    autocast = autocast_for(ctx.device)
    if ctx.device.type == "cuda":  # one warm-up step (allocations, cuDNN autotuning)
        net.train_step(x, y, opts, 0, autocast)
        torch.cuda.synchronize(ctx.device)
    start = time.perf_counter()
    for i in range(steps):
        logs = net.train_step(x, y, opts, i + 1, autocast)
    float(next(iter(logs.values())))  # wait for the device
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    seconds = time.perf_counter() - start
    return {"train_images_per_s": n * steps / seconds, "step_seconds": seconds / steps}


def parameters(ctx) -> dict:
    return {"parameters": float(sum(p.numel() for p in ctx.model.parameters() if p.requires_grad))}
