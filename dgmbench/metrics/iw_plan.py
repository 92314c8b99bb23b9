"""How many images x samples each call of ``log_importance_weights`` takes, measured on the
model and device at hand, within a hard memory bound.

The k-sample estimate draws ``units`` = images x samples log weights per call. The time per unit
depends on the machine: on a CPU, calls small enough for the caches win (the 1-layer MNIST VAE:
~15 us per unit at 1k-2k units, ~30 us at 16k); on a GPU, larger calls win until memory runs out.
So the plan comes from a short probe:

1. memory: the bytes of a call as ``fixed + per_unit * units``, from two tiny calls (8 and 32
   units). On CUDA the allocator's peak (``torch.cuda.max_memory_allocated``); elsewhere the sum of
   the bytes of every tensor the call's torch functions return (a ``TorchFunctionMode``: a sum
   of allocations, so above the peak).
2. speed: seconds per unit of candidate calls of 256, 512, 1024... units (x2 per step on a CPU,
   x4 on CUDA), each the faster of two timed calls, stopping after two candidates in a row 25%
   slower than the best so far, past the memory bound, or past ``PROBE_SHARE`` of the work there
   is (n x k image-samples; the first candidate is always measured).

The bound is a hard limit on every call, the probe's included: ``GPU_MEMORY_FRACTION`` of the free
CUDA memory (read at each use), and ``nll_max_bytes`` (default ``CPU_MAX_BYTES``) elsewhere. The
probe's timings and bytes are cached per model shape and device, in memory and in
``$DGMBENCH_CACHE/nll-plans.json``, so a machine probes a model shape once and then repeats its
plan (and so its Monte Carlo draws) run after run. The probe draws from a forked RNG: the
estimate's draws do not depend on whether the plan came from the cache.

Options: ``nll_batch`` / ``nll_chunk`` fix the plan; ``nll_max_bytes`` sets the CPU bound.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

import torch

from ..errors import DgmbenchError

#: the share of free GPU memory one call may use
GPU_MEMORY_FRACTION = 0.5
#: the bytes one call may use on a CPU (option ``nll_max_bytes``)
CPU_MAX_BYTES = 256 * 2 ** 20
#: the most images per call
MAX_IMAGES = 4096
#: the smallest candidate call, in image-samples
FIRST_UNITS = 256
#: the most work the probe spends, as a share of the estimate's n x k image-samples
PROBE_SHARE = 0.05

_CACHE: dict = {}


def shape_for(units: int, k: int, images: int) -> tuple[int, int]:
    """(images, samples) per call for about ``units`` image-samples: all k samples of as many
    images as fit (at most ``images``), else one image and k split into equal chunks."""
    if units >= k:
        return max(1, min(units // k, images, MAX_IMAGES)), k
    calls = math.ceil(k / max(units, 1))
    return 1, math.ceil(k / calls)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} {platform.machine()} {platform.processor()} {torch.get_num_threads()} threads"


def cache_key(model, x: torch.Tensor, k: int) -> str:
    params = ",".join("x".join(map(str, p.shape)) for p in model.parameters())
    cls = type(model)
    return (f"{cls.__module__}.{cls.__qualname__}|{params}|{tuple(x.shape[1:])}|k={k}|{_device_name(x.device)}"
            f"|torch {torch.__version__}")


def memory_bound(device: torch.device, options: dict) -> int:
    """Bytes one call may use: a share of the free CUDA memory, or the CPU cap."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(GPU_MEMORY_FRACTION * free)
    return int(options.get("nll_max_bytes", CPU_MAX_BYTES))


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


class _AllocationCounter(torch.overrides.TorchFunctionMode):
    """Sums the bytes of the new tensors torch functions return (views and in-place results
    share an input's storage and are not new). torch has no public CPU allocator statistics, and
    every tensor a model makes comes out of some torch function, so the sum bounds the peak."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        seen = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        for t in _tensors(out):
            ptr = t.untyped_storage().data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                self.bytes += t.untyped_storage().nbytes()
        return out


def call_bytes(model, x: torch.Tensor, samples: int) -> int:
    """Bytes one call ``log_importance_weights(x, samples)`` needs (see the module docstring)."""
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
        base = torch.cuda.memory_allocated(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        model.log_importance_weights(x, samples)
        torch.cuda.synchronize(x.device)
        return max(int(torch.cuda.max_memory_allocated(x.device) - base), 1)
    counter = _AllocationCounter()
    with counter:
        model.log_importance_weights(x, samples)
    return max(counter.bytes, 1)


def _seconds(model, x: torch.Tensor, samples: int) -> float:
    best = math.inf
    for _ in range(2):
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        start = time.perf_counter()
        model.log_importance_weights(x, samples)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        best = min(best, time.perf_counter() - start)
    return best


def probe(model, x: torch.Tensor, k: int, n: int, bound: int) -> dict:
    """Measure memory (fixed, per unit) and seconds per unit of the candidate calls, on ``x``
    (a batch of real test inputs), never calling with more than ``bound`` bytes."""
    small, large = shape_for(8, k, len(x)), shape_for(32, k, len(x))
    u1, u2 = small[0] * small[1], large[0] * large[1]
    b1 = call_bytes(model, x[:small[0]], small[1])
    if b1 > bound:
        raise DgmbenchError(f"the NLL memory bound ({bound} bytes) is smaller than one call of {u1} image-samples "
                            f"needs ({b1} bytes); raise nll_max_bytes")
    b2 = call_bytes(model, x[:large[0]], large[1]) if u2 > u1 and b1 * u2 / u1 <= bound else b1
    per_unit = (b2 - b1) / (u2 - u1) if u2 > u1 and b2 > b1 else b1 / u1
    fixed = max(0.0, b1 - per_unit * u1)
    timings, units, grow, worse, spent = {}, FIRST_UNITS, 4 if x.device.type == "cuda" else 2, 0, 0
    limit = min(n * k, len(x) * k)
    while True:
        b, c = shape_for(units, k, len(x))
        spent += 2 * b * c
        if fixed + per_unit * b * c > bound or (timings and spent > PROBE_SHARE * n * k):
            break
        sec = _seconds(model, x[:b], c) / (b * c)
        timings[b * c] = sec
        worse = worse + 1 if sec > 1.25 * min(timings.values()) else 0
        if worse == 2 or b * c >= limit:
            break
        units *= grow
    return {"fixed_bytes": fixed, "bytes_per_unit": per_unit, "seconds_per_unit": timings}


def _cache_file() -> Path:
    from ..paths import cache_dir

    return cache_dir() / "nll-plans.json"


def _load_disk() -> dict:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_disk(key: str, entry: dict) -> None:
    """Best effort: a read-only cache folder only costs a probe next time."""
    path = _cache_file()
    try:
        data = _load_disk()
        data[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass


def measured(model, x: torch.Tensor, k: int, n: int, bound: int) -> dict:
    """The probe's result for this model shape and device, from the cache or measured now."""
    key = cache_key(model, x, k)
    entry = _CACHE.get(key) or _load_disk().get(key)
    if entry is None:
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            entry = probe(model, x, k, n, bound)
        entry["seconds_per_unit"] = {str(u): s for u, s in entry["seconds_per_unit"].items()}
        _save_disk(key, entry)
    _CACHE[key] = entry
    return entry


def choose(entry: dict, k: int, images: int, bound: int) -> tuple[int, int]:
    """The fastest measured call that fits the bound now (the smallest shape when none does)."""
    fits = []
    for units, sec in entry["seconds_per_unit"].items():
        b, c = shape_for(int(units), k, images)
        if entry["fixed_bytes"] + entry["bytes_per_unit"] * b * c <= bound:
            fits.append((sec, b, c))
    if fits:
        _, b, c = min(fits)
        return b, c
    room = (bound - entry["fixed_bytes"]) / max(entry["bytes_per_unit"], 1e-9)
    return shape_for(max(1, int(room)), k, images)


def plan(ctx, k: int) -> tuple[int, int]:
    """(images per call, samples per call) for the k-sample estimate over ``ctx.test``."""
    options, n = ctx.options, max(len(ctx.test), 1)
    fixed = min(int(options["nll_batch"]), n) if options.get("nll_batch") else None
    if options.get("nll_chunk"):
        return fixed or min(ctx.batch_size, n), min(k, int(options["nll_chunk"]))
    x, _ = next(iter(ctx.test_batches(min(n, max(ctx.batch_size, 1)))))
    bound = memory_bound(ctx.device, options)
    entry = measured(ctx.model, x, k, n, bound)
    batch, chunk = choose(entry, k, min(n, MAX_IMAGES), bound)
    if fixed is None:
        return batch, chunk
    room = (bound - entry["fixed_bytes"]) / max(entry["bytes_per_unit"], 1e-9)  # nll_batch images: as
    return fixed, max(1, min(k, int(min(batch * chunk, room)) // fixed))        # many samples as fit
