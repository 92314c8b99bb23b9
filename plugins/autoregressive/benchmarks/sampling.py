"""Time pixel-by-pixel sampling with and without the row-cropping cache, side by side.

    python plugins/autoregressive/benchmarks/sampling.py                       # 64 CIFAR-shaped images, GPU if any
    OMP_NUM_THREADS=1 python plugins/autoregressive/benchmarks/sampling.py --size tiny --n 8 --device cpu

For each model: seconds for ``sample(n, cached=False)`` (the network on the whole image for every
pixel) and ``sample(n, cached=True)`` (only rows [0, r), r = i + 1 rounded up to the model's
downsampling factor), their ratio, and the share of identical sub-pixels drawn from the same seed
(1.0 unless rounding differences between the two input sizes flip a draw). The models are
untrained (random weights): the cost of sampling does not depend on the weights.
"""
from __future__ import annotations

import argparse
import time

import torch

from dgmbench.specs import DatasetSpec

BUILDERS = {
    "pixelcnn": "dgmbench_autoregressive.models.pixelcnn:PixelCNN",
    "gated-pixelcnn": "dgmbench_autoregressive.models.gated_pixelcnn:GatedPixelCNN",
    "pixelcnnpp": "dgmbench_autoregressive.models.pixelcnnpp:PixelCNNpp",
}


def build(name: str, shape, levels: int, size: str):
    from dgmbench.specs import resolve

    spec = DatasetSpec("bench", "none:none", shape, levels=levels, num_classes=10)
    return resolve(BUILDERS[name] + ".build")(spec, {"size": size})


def timed_sample(model, n: int, cached: bool, seed: int, device: torch.device):
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    x = model.sample(n, cached=cached)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return x, time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["pixelcnnpp"], choices=list(BUILDERS))
    ap.add_argument("--n", type=int, default=64, help="images per sample() call")
    ap.add_argument("--shape", default="3,32,32", help="C,H,W (default: CIFAR-10)")
    ap.add_argument("--levels", type=int, default=256)
    ap.add_argument("--size", default="medium", help="model size preset: tiny, small, medium, paper")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    shape = tuple(int(s) for s in args.shape.split(","))
    print(f"sampling {args.n} images of shape {shape}, L={args.levels}, size={args.size}, device={device}, "
          f"torch threads={torch.get_num_threads()}")
    print(f"{'model':16s} {'params':>9s} {'naive s':>9s} {'cached s':>9s} {'naive/cached':>13s} {'identical':>10s}")
    for name in args.models:
        model = build(name, shape, args.levels, args.size).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        with torch.no_grad():  # warm-up (CUDA kernels, allocator)
            model.conditionals(torch.zeros(args.n, *shape, device=device))
        x_naive, t_naive = timed_sample(model, args.n, False, args.seed, device)
        x_cached, t_cached = timed_sample(model, args.n, True, args.seed, device)
        same = (x_naive == x_cached).float().mean().item()
        print(f"{name:16s} {params:9d} {t_naive:9.2f} {t_cached:9.2f} {t_naive / t_cached:13.2f} {same:10.3f}")


if __name__ == "__main__":
    main()
