"""Feature-extraction throughput of the sample-metric path, and what bf16 does to FID.

Route "direct" (what dgmbench does): samples go from ``model.sample`` straight to the feature
network on the device, batch by batch (``dgmbench.metrics.sample_quality.generated``).
Route "folder" (the usual alternative): the same samples are written to PNG files and scored from
the folder -- with clean-fid's folder route (``cleanfid.fid.get_folder_features``, "clean" mode)
for ``--feature-net inception``, or by reading the PNGs back into the same network otherwise.
Both are printed side by side with their ratio, plus the FID between the two routes' features
(about 0: the direct route quantizes to 8 bits like a PNG for inception), and the FID of the
samples against the reference split with fp32 and with bf16 feature extraction (target: |diff| < 0.1).

    OMP_NUM_THREADS=1 python benchmarks/sample_features.py --n 500 --feature-net domain
    python benchmarks/sample_features.py --n 10000 --device cuda --feature-net inception

CIFAR-10 comes from ``--data-root`` / env DGMBENCH_DATA (``--dataset digits`` needs nothing).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dgmbench.errors import DgmbenchError
from dgmbench.features import extract, feature_net_for
from dgmbench.metrics import MetricContext
from dgmbench.metrics import sample_quality as sq
from dgmbench.metrics.frechet import fid_from_features, frechet_distance, mean_cov
from dgmbench.model import Model
from dgmbench.plugins import load_registry


class RandomSampler(Model):
    """Uniform noise images: a "model" that costs nothing."""

    likelihood = "none"

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def sample(self, n):
        return torch.rand(n, *self.shape)


class TinyGenerator(Model):
    """An untrained DCGAN-style generator: z (64) -> 4x4 -> ... -> C x H x W, sigmoid."""

    likelihood = "none"

    def __init__(self, shape, device):
        super().__init__()
        c, h, w = shape
        self.shape, self.device = tuple(shape), device
        self.net = nn.Sequential(
            nn.Linear(64, 128 * 4 * 4), nn.Unflatten(1, (128, 4, 4)), nn.ReLU(),
            nn.Upsample(size=(h // 2, w // 2)), nn.Conv2d(128, 64, 3, padding=1), nn.ReLU(),
            nn.Upsample(size=(h, w)), nn.Conv2d(64, c, 3, padding=1), nn.Sigmoid()).to(device)

    def sample(self, n):
        return self.net(torch.randn(n, 64, device=self.device))


class DataSampler(Model):
    """Held-out images plus a little Gaussian noise: a near-perfect "model" (small FID)."""

    likelihood = "none"

    def __init__(self, x, noise=0.02):
        super().__init__()
        self.x, self.noise = x, noise

    def sample(self, n):
        x = self.x[torch.randint(len(self.x), (n,))]
        return (x + self.noise * torch.randn_like(x)).clamp(0, 1)


def write_pngs(batches, folder: Path) -> int:
    from PIL import Image

    i = 0
    for x in batches:
        arr = torch.round(x.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        for img in arr:
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(folder / f"{i:06d}.png")
            i += 1
    return i


def read_png_batches(folder: Path, batch_size: int, channels: int):
    from PIL import Image

    files = sorted(folder.glob("*.png"))
    for j in range(0, len(files), batch_size):
        arrs = [np.asarray(Image.open(f).convert("L" if channels == 1 else "RGB")) for f in files[j:j + batch_size]]
        x = torch.from_numpy(np.stack(arrs)).float().div_(255)
        yield x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)


def folder_features(net_name, net, folder: Path, batch_size, device, channels):
    if net_name == "inception":
        from cleanfid.features import build_feature_extractor
        from cleanfid.fid import get_folder_features

        from dgmbench.features import inception

        inception.weights_path()  # clean-fid reads the weights from /tmp; make sure a copy is there
        if not (inception.CLEANFID_DIR / inception.WEIGHTS).exists():
            os.symlink(inception.weights_path(), inception.CLEANFID_DIR / inception.WEIGHTS)
        model = build_feature_extractor("clean", device=device, use_dataparallel=False)
        return get_folder_features(str(folder), model, num_workers=0, batch_size=batch_size, device=device,
                                   mode="clean", verbose=False)
    return extract(net, read_png_batches(folder, batch_size, channels), device)[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2000, help="images per route")
    p.add_argument("--device", default="auto")
    p.add_argument("--feature-net", default="inception")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data-root", default=None)
    p.add_argument("--sampler", choices=["random", "tiny", "data"], default="tiny")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--domain-steps", type=int, default=300)
    p.add_argument("--max-train", type=int, default=10000, help="reference/training images from the train split")
    args = p.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    torch.manual_seed(0)
    reg = load_registry()
    ds = reg.dataset(args.dataset)
    load = __import__("dgmbench.specs", fromlist=["resolve"]).resolve(ds.load)
    train = load("train", args.data_root, False, **dict(ds.options)).subset(args.max_train)
    test = load("test", args.data_root, False, **dict(ds.options))
    model = {"random": lambda: RandomSampler(ds.shape), "tiny": lambda: TinyGenerator(ds.shape, device),
             "data": lambda: DataSampler(test.x)}[args.sampler]()
    ctx = MetricContext(model=model, dataset=ds, test=test, device=device, registry=reg, batch_size=args.batch_size,
                        options={"sample_metric_n": args.n, "feature_net": args.feature_net,
                                 "domain_net_steps": args.domain_steps}, load_train=lambda: train)
    print(f"device {device} | dataset {ds.name} {tuple(ds.shape)} ({len(train)} train) | sampler {args.sampler} | "
          f"n {args.n} | torch threads {torch.get_num_threads()}")
    t = time.perf_counter()
    net = feature_net_for(ctx)
    print(f"feature net {net.name} {net.version[:19]} ready in {time.perf_counter() - t:.1f}s"
          + (f" (test accuracy {net.meta['accuracy']:.3f})" if "accuracy" in net.meta else ""))
    net(model.sample(2).to(device).clamp(0, 1))  # warm-up (lazy init, cuDNN autotune)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # sampling alone, to separate the model's cost from the feature path's
    sync()
    t = time.perf_counter()
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(20_000 + ctx.seed)
        for _ in sq.sample_batches(ctx, args.n, args.batch_size):
            pass
    sync()
    t_sample = time.perf_counter() - t

    # direct: the metric path itself
    ctx.__dict__.pop("_sample_features", None)
    sync()
    t = time.perf_counter()
    direct, _ = sq.generated(ctx, net)
    sync()
    t_direct = time.perf_counter() - t

    # folder: the same samples (same seed) to PNG files, then scored from the folder
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(20_000 + ctx.seed)
            written = write_pngs(sq.sample_batches(ctx, args.n, args.batch_size), folder)
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        from_folder = folder_features(net.name, net, folder, args.batch_size, device, ds.shape[0])
        sync()
        t_read = time.perf_counter() - t
    assert written == args.n == len(from_folder) == len(direct)
    t_folder = t_write + t_read

    rate = lambda sec: args.n / max(sec, 1e-9)
    print(f"\nsampling alone: {t_sample:.2f}s ({rate(t_sample):.0f} images/s); both routes include it")
    print(f"{'route':<34}{'seconds':>10}{'images/s':>12}{'w/o sampling':>14}")
    print(f"{'direct (sampler -> features)':<34}{t_direct:>10.2f}{rate(t_direct):>12.0f}"
          f"{rate(t_direct - t_sample):>14.0f}")
    print(f"{'folder (write PNG + score folder)':<34}{t_folder:>10.2f}{rate(t_folder):>12.0f}"
          f"{rate(t_folder - t_sample):>14.0f}   (sample+write {t_write:.2f}s, score {t_read:.2f}s)")
    print(f"speed-up of direct over folder: {t_folder / t_direct:.2f}x "
          f"({(t_folder - t_sample) / max(t_direct - t_sample, 1e-9):.2f}x without sampling)")
    print(f"FID(direct features, folder features) = {fid_from_features(direct, from_folder):.4g}"
          f"  (max |feature diff| {np.abs(direct - from_folder).max():.3g})")

    from dgmbench.features.reference import reference_statistics

    if device.type != "cuda":  # bf16 moved FID by 0.17 on the CPU; dgmbench keeps it for CUDA
        print("\nFID fp32 vs bf16: skipped -- feature_dtype bf16 is CUDA-only (refused on a CPU); "
              "the check is owed on a GPU (benchmarks/gpu-queue, item gpu-benchmarks)")
        return
    ref = reference_statistics(net, ds.name, "train", train, device, batch_size=args.batch_size)
    fids = {}
    for dtype in ("fp32", "bf16"):
        ctx.options["feature_dtype"] = dtype
        feats, _ = sq.generated(ctx, net)
        fids[dtype] = frechet_distance(*mean_cov(feats), ref.mu, ref.sigma)
    diff = fids["bf16"] - fids["fp32"]
    print(f"\nFID vs {ds.name} train ({ref.n} images): fp32 {fids['fp32']:.4f}  bf16 {fids['bf16']:.4f}  "
          f"diff {diff:+.4f}  -> {'OK' if abs(diff) < 0.1 else 'TOO LARGE'} (target |diff| < 0.1)")


if __name__ == "__main__":
    try:
        main()
    except DgmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
