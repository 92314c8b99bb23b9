"""GAN speed, ratios measured side by side in one run.

Part "updates": generator + critic updates per second of the plugin's own ``train_step`` (one
critic update per step, one generator update every n_critic steps), fp32 eager against bf16
autocast + ``torch.compile`` of G and D. bf16 + compile is a CUDA path (dgmbench uses bf16 only
on CUDA); on a CPU only fp32 eager is timed and the comparison is reported as owed.

Part "fid": a 10,000-sample FID straight from the GAN's sampler (the suite's metric path: samples
go to the feature network batch by batch) against the folder-of-PNGs route (the same samples
written as PNG files, read back and scored with the same network), with both FIDs printed (they
agree up to the PNG's 8-bit rounding). The ``domain`` feature network by default (no Inception
weights offline).

    OMP_NUM_THREADS=1 python plugins/gans/benchmarks/throughput.py --part fid --data-root ../shared/data
    python plugins/gans/benchmarks/throughput.py --part updates --device cuda --dataset cifar10
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import torch

from dgmbench.errors import DgmbenchError
from dgmbench.features import extract, feature_net_for
from dgmbench.metrics import MetricContext
from dgmbench.metrics import sample_quality as sq
from dgmbench.metrics.frechet import frechet_distance, mean_cov
from dgmbench.plugins import load_registry
from dgmbench.runner import build_model, load_split
from dgmbench.specs import RunRecord
from dgmbench.training import autocast_for

# the PNG writer/reader of the suite's own folder-route benchmark (one implementation of that route)
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sample_features import read_png_batches, write_pngs  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def updates_per_second(model, x, y, device, steps: int, mode: str) -> tuple[float, float]:
    """(critic updates/s, generator updates/s) over ``steps`` train steps after 5 warm-up steps
    (compilation happens in the warm-up)."""
    if mode == "bf16+compile":
        model.G, model.D = torch.compile(model.G), torch.compile(model.D)
    autocast = autocast_for(device) if mode.startswith("bf16") else contextlib.nullcontext
    opts = model.configure_optimizers(2e-4)
    for i in range(5):
        model.train_step(x, y, opts, i, autocast)
    sync(device)
    d0, g0 = int(model.d_updates), int(model.g_updates)
    t = time.perf_counter()
    for i in range(steps):
        model.train_step(x, y, opts, 5 + i, autocast)
    sync(device)
    sec = time.perf_counter() - t
    return (int(model.d_updates) - d0) / sec, (int(model.g_updates) - g0) / sec


def part_updates(args, reg, device):
    ds = reg.dataset(args.dataset)
    x = torch.rand(args.batch_size, *ds.shape, device=device)
    y = torch.randint(0, ds.num_classes or 10, (args.batch_size,), device=device)
    print(f"\nG + D updates/s on {device}, {ds.name} {tuple(ds.shape)}, batch {args.batch_size}, {args.steps} steps")
    print(f"{'model':<10}{'mode':<16}{'D upd/s':>10}{'G upd/s':>10}{'ratio':>8}")
    for name in args.models:
        spec = reg.model_for(name)
        rates = {}
        for mode in ("fp32 eager", "bf16 eager", "bf16+compile"):
            if mode != "fp32 eager" and device.type != "cuda":
                print(f"{name:<10}{mode:<16}{'owed: bf16 autocast (+ compile) is the CUDA path':>36}")
                continue
            torch.manual_seed(0)
            model = build_model(spec, ds, {**spec.defaults, **args.config}).to(device).train()
            try:
                rates[mode] = updates_per_second(model, x, y, device, args.steps, mode)
            except Exception as exc:  # noqa: BLE001 -- a mode torch cannot run (e.g. compile + double backward) is a result
                print(f"{name:<10}{mode:<16}  failed: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}")
                continue
            ratio = rates[mode][0] / rates["fp32 eager"][0]
            print(f"{name:<10}{mode:<16}{rates[mode][0]:>10.1f}{rates[mode][1]:>10.1f}{ratio:>7.2f}x")


def part_fid(args, reg, device):
    ds = reg.dataset(args.fid_dataset)
    record = RunRecord(model=args.fid_model, dataset=ds.name, data_root=args.data_root)
    train = load_split(ds, "train", record, args.max_train)
    test = load_split(ds, "test", record, None)
    spec = reg.model_for(args.fid_model)
    torch.manual_seed(0)
    model = build_model(spec, ds, {**spec.defaults, **args.config}).to(device).eval()  # untrained: speed only
    ctx = MetricContext(model=model, dataset=ds, test=test, device=device, registry=reg, batch_size=250,
                        options={"sample_metric_n": args.n, "feature_net": args.feature_net,
                                 "domain_net_steps": args.domain_steps}, load_train=lambda: train)
    net = feature_net_for(ctx)
    sq.reference(ctx, net)  # the reference statistics are cached: both routes reuse them
    print(f"\n{args.n}-sample FID of {args.fid_model} on {ds.name}, feature net {net.name}, device {device}")
    t = time.perf_counter()
    direct = sq.fid(ctx)["fid"]
    t_direct = time.perf_counter() - t
    ref = sq.reference(ctx, net)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(20_000 + ctx.seed)  # the samples the direct route drew
            written = write_pngs(sq.sample_batches(ctx, args.n, 250), Path(tmp))
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        feats, _ = extract(net, read_png_batches(Path(tmp), 250, ds.shape[0]), device)
        folder = frechet_distance(*mean_cov(feats), ref.mu, ref.sigma)
        t_read = time.perf_counter() - t
    assert written == args.n == len(feats)
    t_folder = t_write + t_read
    print(f"{'route':<36}{'seconds':>9}{'FID':>10}")
    print(f"{'direct (sampler -> features)':<36}{t_direct:>9.2f}{direct:>10.3f}")
    print(f"{'folder (write PNGs, read, score)':<36}{t_folder:>9.2f}{folder:>10.3f}"
          f"   (write {t_write:.2f}s, read + score {t_read:.2f}s)")
    print(f"direct is {t_folder / t_direct:.2f}x faster; |FID difference| {abs(direct - folder):.4f} (8-bit rounding)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["updates", "fid", "both"], default="both")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--dataset", default="cifar10", help="shape for the updates part (data not read)")
    p.add_argument("--models", nargs="+", default=["nsgan", "wgan-gp"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="model config (e.g. width=32)")
    p.add_argument("--fid-model", default="nsgan")
    p.add_argument("--fid-dataset", default="mnist")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--feature-net", default="domain")
    p.add_argument("--domain-steps", type=int, default=300)
    p.add_argument("--max-train", type=int, default=10000)
    args = p.parse_args(argv)
    args.config = {k: int(v) if v.isdigit() else v for k, v in (kv.split("=", 1) for kv in args.config)}
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    reg = load_registry()
    if args.part in ("updates", "both"):
        part_updates(args, reg, device)
    if args.part in ("fid", "both"):
        part_fid(args, reg, device)


if __name__ == "__main__":
    try:
        main()
    except DgmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
