"""Training images/s per model: plain fp32 eager against bf16 autocast + torch.compile, side by side;
and, with ``--vs-harness``, the harness's training loop against a bare loop over the same
``train_step`` (target: >= 0.95 of the bare loop's steps/s).

Each model is built by its plugin for the dataset's shape (CIFAR-10 by default: 3x32x32, 256 levels)
and trained with its own ``train_step`` on random images of that shape for ``--steps`` timed steps
after ``--warmup`` untimed ones (compilation happens in the warm-up). Prints one row per model and
the speed-up; the target on a GPU is at least 2x on the convolutional models.

    python benchmarks/train_throughput.py --device cuda [--models realnvp glow pixelcnn ...]
    python benchmarks/train_throughput.py --device cpu --steps 3 --warmup 1 --models realnvp --no-compile
    python benchmarks/train_throughput.py --vs-harness --device cpu   # 1-layer VAE and RealNVP on CIFAR-10

``--vs-harness``: for the 1-layer VAE on dynamically binarized MNIST and RealNVP on CIFAR-10 (random
data of their shapes, held in memory like a loaded split), steps/s of ``dgmbench.training.fit`` (logs
read every ``log_every`` steps, binarization or dequantization on the device, full batches, no held-out
curve or checkpoint) against a bare loop that cuts random batches of the same size on the device (with
the same binarization or dequantization) and calls the same ``train_step``. Repeats are interleaved
(bare, harness, bare, ...) and each side keeps its best, so a shared machine's noise hits both; prints
PASS/FAIL per model against the 0.95 target.

``--fast-paths NAMES``: per family (one model of each plugin distribution, on its dataset's shape),
steps/s of ``dgmbench.training.fit`` with the budget's ``fast`` empty (eager) against ``fast=NAMES``
(default ``channels_last,fused_adam,compile``; see ``dgmbench.plan.FAST_PATHS``), side by side, best
of ``--repeats`` interleaved repeats. This is the measurement that decides, per family, which fast
paths a GPU budget turns on (they are all off until measured on a device):

    python benchmarks/train_throughput.py --device cuda --fast-paths channels_last,fused_adam,compile
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from dgmbench.metrics import model_input_for
from dgmbench.options import key_values as _key_values
from dgmbench.plugins import load_registry
from dgmbench.runner import build_model
from dgmbench.training import autocast_for

MODELS = ["nice", "realnvp", "glow", "pixelcnn", "gated-pixelcnn", "pixelcnnpp", "vae", "iwae"]


def images_per_second(model, ds, device, batch: int, steps: int, warmup: int, fast: bool, compile_: bool) -> float:
    model = copy.deepcopy(model).to(device).train()
    if fast and compile_:
        model.loss = torch.compile(model.loss)
    optimizers = model.configure_optimizers(1e-4)
    autocast = autocast_for(device, enabled=fast) if fast else (lambda: torch.autocast(device.type, enabled=False))
    levels = ds.levels or 256
    x = torch.randint(0, levels, (batch, *ds.shape), device=device).float() / (levels - 1)
    y = torch.randint(0, ds.num_classes or 10, (batch,), device=device)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        model.train_step(model_input_for(model, ds, x), y, optimizers, i, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return batch * steps / (time.perf_counter() - start)


HARNESS_TARGET = 0.95
#: (model, dataset whose shape it trains on, config, batch, share of --steps: a RealNVP step on 3x32x32 is
#: about 20 times a 1-layer VAE step)
HARNESS_CASES = [("vae", "mnist-binary", {"layers": 1, "k": 1}, 100, 1.0), ("realnvp", "cifar10", {}, 64, 0.1)]


def bare_steps_per_second(model, ds, split, device, batch: int, steps: int) -> float:
    """The same train_step over the same batches, with nothing around it."""
    optimizers = model.configure_optimizers(1e-4)
    x_all = split.x.to(device)
    autocast = autocast_for(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        idx = torch.randint(0, len(x_all), (batch,), device=device)
        x = x_all[idx]
        x = split.transform(x) if split.transform is not None else x
        model.train_step(model_input_for(model, ds, x), None, optimizers, i, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps / (time.perf_counter() - start)


def harness_steps_per_second(model, ds, split, device, batch: int, steps: int, fast=()) -> float:
    from dgmbench.specs import Budget
    from dgmbench.training import Hooks, TrainingRun, fit

    budget = Budget("bench", epochs=1000, batch_size=batch, lr=1e-4, max_steps=steps, fast=fast)
    start = time.perf_counter()
    fit(model, split, TrainingRun(ds, budget, device), Hooks(progress=False))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps / (time.perf_counter() - start)


#: one model per family (plugin distribution): (family, model, dataset, config, batch)
FAMILY_CASES = [
    ("latent", "vae", "mnist-binary", {"layers": 1, "k": 1}, 100),
    ("flows", "realnvp", "cifar10", {}, 64),
    ("autoregressive", "pixelcnn", "cifar10", {}, 64),
    ("gans", "nsgan", "cifar10", {}, 64),
    ("reversible", "revnet", "cifar10", {}, 128),
    ("quantized", "vqvae2", "cifar10", {}, 64),
    ("disentangle", "betavae", "dsprites", {}, 64),
    ("diffusion", "ddpm", "cifar10", {}, 64),
    ("baselines", "deep-gmm", "mnist", {}, 100),
]


def fast_vs_eager(args, device) -> None:
    """steps/s of fit per family: eager against the budget's ``fast`` paths (random data of the
    dataset's shape, held like a loaded split; the first steps of each side are a warm-up)."""
    from dgmbench.data import DataSplit

    reg = load_registry()
    print(f"device {device}; fast = {args.fast_paths}; best of {args.repeats} interleaved repeats of "
          f"{args.steps} steps (after {args.warmup} warm-up steps)")
    print(f"{'family':15s} {'model':10s} {'eager steps/s':>14s} {'fast steps/s':>13s} {'speed-up':>9s}")
    for family, name, dataset, config, batch in FAMILY_CASES:
        if name not in reg.items["models"] or (args.models != MODELS and name not in args.models):
            continue
        ds, spec = reg.dataset(dataset), reg.items["models"][name]
        g = torch.Generator().manual_seed(0)
        levels = ds.levels or 256
        x = torch.randint(0, levels, (4 * batch, *ds.shape), generator=g).float() / (levels - 1)
        y = torch.randint(0, ds.num_classes or 10, (4 * batch,), generator=g)
        split = DataSplit(x, y)
        torch.manual_seed(0)
        model = build_model(spec, ds, {**spec.defaults, **config})
        best = {"eager": 0.0, "fast": 0.0}
        sides = (("eager", ()), ("fast", args.fast_paths))
        for _, fast in sides:  # warm-up: first-call costs (allocator, cuDNN autotune, compilation)
            harness_steps_per_second(copy.deepcopy(model), ds, split, device, batch, args.warmup, fast)
        for _ in range(args.repeats):
            for side, fast in sides:
                steps_per_s = harness_steps_per_second(copy.deepcopy(model), ds, split, device, batch, args.steps,
                                                       fast)
                best[side] = max(best[side], steps_per_s)
        print(f"{family:15s} {name:10s} {best['eager']:14.2f} {best['fast']:13.2f} "
              f"{best['fast'] / best['eager']:9.2f}")


def vs_harness(args, device) -> None:
    from dgmbench.data import DataSplit, dynamic_binarize

    reg = load_registry()
    print(f"device {device}; best of {args.repeats} interleaved repeats; target harness/bare >= {HARNESS_TARGET}")
    print(f"{'model':36s} {'bare steps/s':>13s} {'harness steps/s':>16s} {'ratio':>6s}")
    for name, dataset, config, batch, share in [c for c in HARNESS_CASES if c[0] in args.models]:
        steps, warmup = max(2, round(args.steps * share)), max(1, round(args.warmup * share))
        if name not in reg.items["models"]:
            print(f"{name:24s} not installed")
            continue
        ds, spec = reg.dataset(dataset), reg.items["models"][name]
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, ds.levels, (max(4 * batch, 1024), *ds.shape), generator=g).float() / (ds.levels - 1)
        if ds.levels == 2:  # binarized data: grey levels, drawn on every use as the dataset does
            x = torch.rand(x.shape, generator=g)
        split = DataSplit(x, transform=dynamic_binarize if ds.levels == 2 else None)
        torch.manual_seed(0)
        model = build_model(spec, ds, {**spec.defaults, **config}).to(device).train()
        bare_steps_per_second(copy.deepcopy(model), ds, split, device, batch, warmup)  # warm-up
        best = {"bare": 0.0, "harness": 0.0}
        for _ in range(args.repeats):
            best["bare"] = max(best["bare"], bare_steps_per_second(copy.deepcopy(model), ds, split, device, batch,
                                                                   steps))
            best["harness"] = max(best["harness"], harness_steps_per_second(copy.deepcopy(model), ds, split,
                                                                            device, batch, steps))
        ratio = best["harness"] / best["bare"]
        label = f"{name} on {dataset} (b={batch}, {steps} steps)"
        print(f"{label:36s} {best['bare']:13.2f} {best['harness']:16.2f} {ratio:6.3f}  "
              f"{'PASS' if ratio >= HARNESS_TARGET else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--dataset", default="cifar10", help="whose shape and levels to use (no data is read)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="bf16 autocast alone (compilation is slow on a CPU)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="model config (all models)")
    ap.add_argument("--vs-harness", action="store_true", help="harness loop vs a bare loop")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats for --vs-harness / --fast-paths")
    ap.add_argument("--fast-paths", nargs="?", const="channels_last,fused_adam,compile", metavar="NAMES",
                    help="fit's steps/s per family, eager vs these fast paths (dgmbench.plan.FAST_PATHS)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.vs_harness:
        return vs_harness(args, device)
    if args.fast_paths:
        return fast_vs_eager(args, device)
    reg = load_registry()
    ds = reg.dataset(args.dataset)
    config = _key_values(args.config)
    fast_name = "bf16" + ("" if args.no_compile else "+compile")
    print(f"device {device}, dataset shape {ds.shape}, batch {args.batch}, {args.steps} timed steps")
    print(f"{'model':16s} {'fp32 eager img/s':>17s} {fast_name + ' img/s':>20s} {'speed-up':>9s}")
    for name in args.models:
        if name not in reg.items["models"]:
            print(f"{name:16s} not installed")
            continue
        spec = reg.items["models"][name]
        if name in ("vae", "iwae"):  # Bernoulli decoders: benchmark on binarized MNIST's shape
            ds_m = reg.dataset("mnist-binary")
        else:
            ds_m = ds
        torch.manual_seed(0)
        model = build_model(spec, ds_m, {**spec.defaults, **config})
        base = images_per_second(model, ds_m, device, args.batch, args.steps, args.warmup, False, False)
        fast = images_per_second(model, ds_m, device, args.batch, args.steps, args.warmup, True, not args.no_compile)
        print(f"{name:16s} {base:17.1f} {fast:20.1f} {fast / base:9.2f}")


if __name__ == "__main__":
    main()
