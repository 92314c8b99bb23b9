"""``dgmbench score-folder REAL FAKE``: sample-quality metrics of a folder of generated images
against a folder of real ones, the way clean-fid's ``compute_fid(dir1, dir2)`` and
torch-fidelity's ``fidelity --input1 --input2`` score folders, with the suite's own functions
(:mod:`dgmbench.metrics.frechet`) and feature networks.

Both folders are read recursively (.png, .jpg, .jpeg, .bmp, .webp), 8-bit, all images of one
folder at the size of its first. The feature network is the suite's: ``inception`` (clean-fid's
weights and resize), ``domain`` (the classifier the suite trains on ``--dataset``, default
``imagefolder:REAL``, which then needs class subfolders), or a plugin's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import DataError, DgmbenchError
from .metrics.frechet import fid_from_features, inception_score, kernel_inception_distance, precision_recall
from .specs import DatasetSpec, resolve

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"score-folder: {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if len(files) < 2:
        raise DataError(f"score-folder: {folder} holds {len(files)} images (.png/.jpg/.jpeg/.bmp/.webp); "
                        "it needs at least 2")
    return files


def load_images(folder: Path, mode: str | None = None, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(N, C, H, W) floats k / 255 in [0, 1]; ``mode`` "L" or "RGB" (default: the first image's),
    ``size`` (W, H) that every image must have (default: the first image's)."""
    from PIL import Image

    files = image_files(folder)
    arrays = []
    for path in files:
        try:
            with Image.open(path) as im:
                if mode is None:
                    mode = "L" if im.mode in ("1", "L", "I", "I;16") else "RGB"
                size = size or im.size
                if im.size != size:
                    raise DataError(f"score-folder: {path} is {im.size[0]}x{im.size[1]}, the others "
                                    f"{size[0]}x{size[1]} (resize them first: metrics on resampled images are not "
                                    "comparable)")
                arrays.append(np.asarray(im.convert(mode)))
        except (OSError, SyntaxError, ValueError) as exc:  # PIL: not an image, or a truncated one
            why = (str(exc).splitlines() or ["unreadable"])[0]
            raise DataError(f"score-folder: {path} is not a readable image ({type(exc).__name__}: {why}); "
                            "remove or replace it") from None
    x = torch.as_tensor(np.stack(arrays))
    x = x.unsqueeze(-1) if x.ndim == 3 else x
    return x.permute(0, 3, 1, 2).float().div_(255)


def _context(real: torch.Tensor, net_name: str, dataset: str | None, data_root, device, options: dict, reg):
    """A MetricContext for building the feature network: the dataset it is trained on (domain) or
    the real folder itself (any network that needs no training)."""
    from .data import DataSplit
    from .metrics import MetricContext

    if net_name == "domain":
        spec = reg.dataset(dataset)
        load = resolve(spec.load)
        return MetricContext(model=None, dataset=spec, test=load("test", data_root, False, **dict(spec.options)),
                             device=device, options=options, registry=reg,
                             load_train=lambda: load("train", data_root, False, **dict(spec.options)))
    spec = DatasetSpec(name="folder", load=lambda *a, **k: None, shape=tuple(real.shape[1:]), levels=256)
    return MetricContext(model=None, dataset=spec, test=DataSplit(real), device=device, options=options, registry=reg)


def score_folders(real_dir: Path, fake_dir: Path, feature_net: str = "inception", dataset: str | None = None,
                  data_root=None, device: str = "auto", options: dict | None = None, reg=None) -> dict:
    """FID, KID (mean, std), IS (when the network has a classifier head) and precision/recall of
    ``fake_dir`` against ``real_dir``; plus the image counts and the feature network's name."""
    from .features import extract, feature_net_for
    from .plugins import load_registry
    from .training import select_device

    reg = reg or load_registry()
    options = {"domain_net_steps": 2000, **(options or {})}
    dev = select_device(device)
    dataset = dataset or f"imagefolder:{real_dir}"
    mode = size = None
    if feature_net == "domain":  # the classifier sees images as its dataset holds them
        shape = reg.dataset(dataset).shape
        mode, size = ("L" if shape[0] == 1 else "RGB"), (shape[2], shape[1])
    real = load_images(Path(real_dir), mode, size)
    fake = load_images(Path(fake_dir), "L" if real.shape[1] == 1 else "RGB", (real.shape[3], real.shape[2]))
    net = feature_net_for(_context(real, feature_net, dataset, data_root, dev, options, reg), feature_net)
    batch = int(options.get("batch_size", 100))
    real_f, _ = extract(net, real.split(batch), dev)
    fake_f, fake_p = extract(net, fake.split(batch), dev)
    if real_f.shape[1] != fake_f.shape[1]:
        raise DgmbenchError(f"feature sizes differ ({real_f.shape[1]} vs {fake_f.shape[1]})")
    out = {"n_real": float(len(real)), "n_fake": float(len(fake)), "fid": fid_from_features(real_f, fake_f)}
    subset = min(int(options.get("kid_subset_size", 1000)), len(real), len(fake))
    out["kid"], out["kid_std"] = kernel_inception_distance(real_f, fake_f, int(options.get("kid_subsets", 100)),
                                                           subset, device=dev)
    if fake_p is not None:
        out["is"], out["is_std"] = inception_score(fake_p, int(options.get("is_splits", 10)))
    k = int(options.get("pr_k", 3))
    if min(len(real), len(fake)) > k:
        out["precision"], out["recall"] = precision_recall(real_f, fake_f, k, device=dev)
    return out
