"""RevNet against ResNet, side by side in one run: training step time and training memory.

Targets: a RevNet-164 step at most 2x a ResNet-164 step (the recomputation costs about
one extra forward pass); RevNet-164's memory within 1.3x of RevNet-38's and at most 0.35x
ResNet-164's (memcnn measured 1.81x and 0.40x in total GPU memory). Memory is the peak of bytes
saved for backward (any device; dgmbench.metrics.training_cost.SavedTensorMeter) and, on CUDA,
torch.cuda.max_memory_allocated of the step.

    python plugins/reversible/benchmarks/revnet_cost.py [--device cuda] [--batch 128] [--steps 3]
"""
from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch
from dgmbench_reversible import resnet, revnet
from tabulate import tabulate

from dgmbench.metrics.training_cost import step_memory

CIFAR = SimpleNamespace(name="cifar10", shape=(3, 32, 32), num_classes=10)
MODELS = [("ResNet", resnet, 32), ("ResNet", resnet, 110), ("ResNet", resnet, 164),
          ("RevNet", revnet, 38), ("RevNet", revnet, 110), ("RevNet", revnet, 164)]


def measure(module, depth, x, y, device, steps: int) -> dict:
    torch.manual_seed(0)
    net = module.build(CIFAR, {"depth": depth}).to(device).train()
    opts = net.configure_optimizers(0.1)
    mem = step_memory(net, x, y, device, opts)  # also the warm-up step
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        loss = net.train_step(x, y, opts, i + 1, None)["loss"]
    float(loss)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    step = (time.perf_counter() - start) / steps
    return {"params (M)": sum(p.numel() for p in net.parameters()) / 1e6, **mem, "step s": step,
            "images/s": len(x) / step}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per model (after the measured one)")
    ap.add_argument("--depths", nargs="+", default=None, help="e.g. ResNet-164 RevNet-164 (default: all six)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
    rows = {}
    for name, module, depth in MODELS:
        if args.depths and f"{name}-{depth}" not in args.depths:
            continue
        rows[f"{name}-{depth}"] = measure(module, depth, x, y, device, args.steps)
        print(f"{name}-{depth}: {rows[f'{name}-{depth}']}", flush=True)
    print(f"\nbatch {args.batch}, device {device}, {args.steps} timed steps per model, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(tabulate([{"model": k, **v} for k, v in rows.items()], headers="keys", floatfmt=".3f"))

    def ratio(a, b, key):
        return f"{rows[a][key] / rows[b][key]:.2f}" if a in rows and b in rows and key in rows[a] else "-"

    print("\nratios (target in brackets):")
    print(f"  step time RevNet-164 / ResNet-164: {ratio('RevNet-164', 'ResNet-164', 'step s')}  [<= 2]")
    for key in ("saved_mib", "cuda_peak_mib"):
        print(f"  {key}: RevNet-164 / RevNet-38 {ratio('RevNet-164', 'RevNet-38', key)} [<= 1.3; memcnn 1.81], "
              f"RevNet-110 / RevNet-38 {ratio('RevNet-110', 'RevNet-38', key)} [same blocks, 3x depth], "
              f"RevNet-164 / ResNet-164 {ratio('RevNet-164', 'ResNet-164', key)} [<= 0.35; memcnn 0.40], "
              f"ResNet-164 / ResNet-32 {ratio('ResNet-164', 'ResNet-32', key)}")


if __name__ == "__main__":
    main()
