"""The k = 5000 importance-sampled NLL four ways, timed side by side.

Model: the one-stochastic-layer VAE of Burda et al. (784-200-200-50, tanh, Bernoulli decoder;
``dgmbench_latent``, so ``pip install -e plugins/latent``) with random weights, on N MNIST-sized
binary inputs (seeded Bernoulli(0.13) pixels, MNIST's mean ink). Estimate per image:
log p(x) ~= log (1/k) sum_i w_i. The weights are PyTorch's default initialization times
``--weight-scale`` (0.4): at full scale the log weights of a random network spread so much
(sd ~2 nats) that a k = 5000 estimate itself varies by ~0.15 nats per image, and the comparison
would measure Monte Carlo noise rather than the estimators (at 0.4: ~0.005 nats). Timing does
not depend on the scale.

1. suite      ``dgmbench.metrics.likelihood.iw_log_likelihood``: images x samples per call chosen
              by a short measured probe (``dgmbench.metrics.iw_plan``) within the memory bound,
              the log-sum-exp accumulated over chunks with torch.logaddexp. Timed cold: the
              probe's cost is included (an empty plan cache each repeat).
2. batched    every image and all k samples in one call (the reference; needs N x k x ~16 KB).
3. per-image  one image at a time, its k samples in one call.
4. chunk-64   one image at a time, 64 samples per call, log-sum-exp over the collected chunks
              (what pythae's ``get_nll`` does).

Prints seconds (the best of ``--repeats`` interleaved repeats), images/s, the time against the
suite, and the largest per-image disagreement with the batched reference (all four are Monte
Carlo estimates with different draws; with k = 5000 they must agree to 0.05 nats), then PASS/FAIL
against the target: on a CPU the suite at least as fast as the best of per-image and
chunk-64; on a GPU within 2x of the fully batched time; estimates within 0.05 nats. Exit 1 on FAIL.

    OMP_NUM_THREADS=1 python benchmarks/iwae_nll.py --n 200 --device cpu --repeats 3
    python benchmarks/iwae_nll.py --n 1000 --device cuda
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import torch
from dgmbench_latent.models import VAE

from dgmbench.data import DataSplit
from dgmbench.metrics import MetricContext
from dgmbench.metrics.likelihood import iw_log_likelihood, plan_chunks
from dgmbench.specs import DatasetSpec
from dgmbench.training import select_device

SPEC = DatasetSpec("random-binary-28x28", load="unused:unused", shape=(1, 28, 28), levels=2)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


@torch.no_grad()
def suite(model, x, k, device):
    """The suite's metric; per-image values via the same chunk plan it uses."""
    from dgmbench.metrics import iw_plan
    from dgmbench.metrics.likelihood import log_mean_weights

    ctx = MetricContext(model=model, dataset=SPEC, test=DataSplit(x.cpu()), device=device, batch_size=128)
    iw_plan._CACHE.clear()  # cold: the probe runs inside the timed call
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DGMBENCH_CACHE"] = cache
        est, seconds = timed(lambda: iw_log_likelihood(ctx, k), device)
    batch, chunk = plan_chunks(ctx, k)
    torch.manual_seed(ctx.seed)  # what ctx.test_batches() does before the pass
    per_image = torch.cat([log_mean_weights(model, x[i:i + batch], k, chunk)[0] for i in range(0, len(x), batch)])
    assert abs(per_image.sum().item() - est["log_p_sum"]) < 1e-3 * len(x) + 0.5  # same plan, same numbers
    return per_image, seconds, f"{batch} images x {chunk} samples per call"


@torch.no_grad()
def batched(model, x, k):
    torch.manual_seed(2)
    return torch.logsumexp(model.log_importance_weights(x, k).double(), 0) - math.log(k)


@torch.no_grad()
def per_image(model, x, k):
    torch.manual_seed(3)
    return torch.stack([torch.logsumexp(model.log_importance_weights(x[i:i + 1], k).double(), 0)[0]
                        for i in range(len(x))]) - math.log(k)


@torch.no_grad()
def chunk64(model, x, k, chunk=64):
    torch.manual_seed(4)
    out = []
    for i in range(len(x)):
        parts = [model.log_importance_weights(x[i:i + 1], min(chunk, k - j)).double() for j in range(0, k, chunk)]
        out.append(torch.logsumexp(torch.cat(parts), 0)[0] - math.log(k))
    return torch.stack(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n", type=int, default=200, help="images")
    ap.add_argument("--k", type=int, default=5000, help="importance samples per image")
    ap.add_argument("--weight-scale", type=float, default=0.4, help="multiplies the random initial weights")
    ap.add_argument("--skip", nargs="*", default=[], choices=["batched", "per-image", "chunk-64"])
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats; each method's best time counts")
    args = ap.parse_args(argv)
    device = select_device(args.device)
    torch.manual_seed(0)
    model = VAE(SPEC.shape, 2, {"layers": 1}).to(device).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(args.weight_scale)
    x = torch.bernoulli(torch.full((args.n, *SPEC.shape), 0.13, device=device))
    model.log_importance_weights(x[:2], 16)  # warm-up (kernels, allocator)

    methods = {"suite": lambda: suite(model, x, args.k, device)}
    if "batched" not in args.skip:
        methods["batched (one call)"] = lambda: (*timed(lambda: batched(model, x, args.k), device),
                                                 f"{args.n} images x {args.k} samples")
    if "per-image" not in args.skip:
        methods["per-image"] = lambda: (*timed(lambda: per_image(model, x, args.k), device),
                                        f"1 image x {args.k} samples")
    if "chunk-64" not in args.skip:
        methods["chunk-64 (pythae)"] = lambda: (*timed(lambda: chunk64(model, x, args.k), device),
                                                "1 image x 64 samples")
    best = {}
    for _ in range(max(1, args.repeats)):  # interleaved, so a busy moment hits every method alike
        for label, fn in methods.items():
            est, sec, what = fn()
            if label not in best or sec < best[label][0]:
                best[label] = (sec, est, what)
    rows = [(label, *best[label]) for label in methods]
    ref, sec_suite = best["suite"][1], best["suite"][0]

    base = best["batched (one call)"][1] if "batched (one call)" in best else ref
    name = f"{torch.get_num_threads()} threads" if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"k = {args.k}, N = {args.n} MNIST-sized inputs, 1-layer VAE (random weights x {args.weight_scale}), "
          f"{device} ({name}), torch {torch.__version__}, best of {max(1, args.repeats)}")
    print(f"mean estimate: {ref.mean().item():.4f} nats (log p)")
    print(f"{'method':<20} {'seconds':>9} {'images/s':>10} {'x suite':>8} {'max|diff| nats':>15}  per call")
    worst = 0.0
    for label, sec, est, what in rows:
        diff = (est - base).abs().max().item()
        worst = max(worst, diff)
        print(f"{label:<20} {sec:>9.3f} {args.n / sec:>10.1f} {sec / sec_suite:>8.2f} {diff:>15.4f}  {what}")
    ok = worst < 0.05
    print(f"largest disagreement: {worst:.4f} nats ({'PASS' if ok else 'FAIL'}: must be < 0.05)")
    if device.type == "cuda" and "batched (one call)" in best:
        ratio = sec_suite / best["batched (one call)"][0]
        fast = ratio <= 2.0
        print(f"target (GPU): suite within 2x of the fully batched time: {ratio:.2f}x -> {'PASS' if fast else 'FAIL'}")
    else:
        loops = [best[m][0] for m in ("per-image", "chunk-64 (pythae)") if m in best]
        fast = not loops or sec_suite <= min(loops)
        print(f"target (CPU): suite at least as fast as the best loop: suite {sec_suite:.3f}s vs "
              f"{min(loops) if loops else float('nan'):.3f}s -> {'PASS' if fast else 'FAIL'}")
    return 0 if ok and fast else 1


if __name__ == "__main__":
    raise SystemExit(main())
