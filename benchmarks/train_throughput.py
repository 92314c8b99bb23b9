"""Training images/s per model: plain fp32 eager against bf16 autocast + torch.compile, side by side.

Each model is built by its plugin for the dataset's shape (CIFAR-10 by default: 3x32x32, 256 levels)
and trained with its own ``train_step`` on random images of that shape for ``--steps`` timed steps
after ``--warmup`` untimed ones (compilation happens in the warm-up). Prints one row per model and
the speed-up; the target on a GPU is at least 2x on the convolutional models.

    python benchmarks/train_throughput.py --device cuda [--models realnvp glow pixelcnn ...]
    python benchmarks/train_throughput.py --device cpu --steps 3 --warmup 1 --models realnvp --no-compile
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from dgmbench.cli import _key_values
from dgmbench.metrics import model_input_for
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
    args = ap.parse_args()
    device = torch.device(args.device)
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
