"""The core's datasets: embedded ones (no download) and torchvision-backed standard ones.

Standard datasets read torchvision's on-disk layout under the data root (``--data-root``, env
``DGMBENCH_DATA``, default ``~/.cache/dgmbench/data``) and download only when asked. A partial
copy (some CIFAR-10 batches, the small Omniglot subsets) loads with a warning that says how much
was found; the counts go into every stored result.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .data import DataSplit, dynamic_binarize
from .errors import DataError
from .specs import DatasetSpec


class PartialDataWarning(UserWarning):
    """Only part of a split was found on disk."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    from .paths import data_root as where

    return where(root)


def _images(array, levels: int = 256) -> torch.Tensor:
    """uint8 (N, H, W[, C]) -> float (N, C, H, W) in [0, 1]."""
    t = torch.as_tensor(np.asarray(array))
    if t.ndim == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).float().div_(levels - 1).contiguous()


def _split_indices(n: int, test_fraction: float, seed: int = 0):
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return perm[n_test:], perm[:n_test]


# -- embedded ---------------------------------------------------------------------------------

def load_digits(split: str, root=None, download=False) -> DataSplit:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 17 grey levels), split 80/20."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    train, test = _split_indices(len(d.target), 0.2)
    idx = train if split == "train" else test
    x = torch.tensor(d.images[idx], dtype=torch.float32).unsqueeze(1) / 16.0
    return DataSplit(x, torch.tensor(d.target[idx]))


def _toy2d(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "moons":
        from sklearn.datasets import make_moons

        x, _ = make_moons(n, noise=0.05, random_state=int(rng.integers(2**31)))
        return (x - [0.5, 0.25]) * 2.0
    if kind == "8gaussians":
        angles = rng.integers(0, 8, n) * (np.pi / 4)
        centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1)
        return centers + 0.2 * rng.standard_normal((n, 2))
    if kind == "checkerboard":
        x1 = rng.uniform(-2, 2, n)
        x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2 - 2 + np.floor(x1 + 2) % 2
        return np.stack([x1, x2], 1)
    raise ValueError(kind)


#: the 2-D Gaussian mixtures of the mode-collapse experiments: mode centers and the common std
#: (ring: 8 modes on the circle of radius 2, std 0.02, Metz et al. 2017 "Unrolled GANs"; grid: 25
#: modes at {-4, -2, 0, 2, 4}^2, std 0.05, Srivastava et al. 2017 "VEEGAN")
MIXTURES = {"ring8": (2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1), 0.02),
            "grid25": (np.array([(i, j) for i in range(-4, 5, 2) for j in range(-4, 5, 2)], dtype=float), 0.05)}


def load_toy2d(split: str, root=None, download=False, kind: str = "moons") -> DataSplit:
    """A 2-D toy density (20,000 train / 5,000 test points, fixed seeds). The mixtures
    (``MIXTURES``) draw each mode equally often and label every point with its mode."""
    rng = np.random.default_rng(0 if split == "train" else 1)
    n = 20000 if split == "train" else 5000
    if kind in MIXTURES:
        centers, std = MIXTURES[kind]
        y = rng.integers(0, len(centers), n)
        x = centers[y] + std * rng.standard_normal((n, 2))
        return DataSplit(torch.tensor(x, dtype=torch.float32), torch.tensor(y))
    return DataSplit(torch.tensor(_toy2d(kind, n, rng), dtype=torch.float32))


# -- torchvision-backed -------------------------------------------------------------------------

def _torchvision(cls_name: str, name: str, where: str, **kwargs):
    """Instantiate a torchvision dataset, turning its errors into one clear line."""
    import torchvision.datasets as tvd

    download = kwargs.get("download", False)
    try:
        return getattr(tvd, cls_name)(**kwargs)
    except RuntimeError as exc:
        if download:
            raise DataError(f"{name}: download failed ({exc}); check the network, or copy the files to {where}")
        if "not found" in str(exc).lower():
            raise DataError(f"{name} not found under {where}: copy torchvision's files there, point --data-root "
                            "(or DGMBENCH_DATA) at the folder that holds them, or pass --download") \
                from None  # torchvision's own advice ("use download=True") is not for our users
        raise DataError(f"{name} could not be read (corrupt or truncated file?): {exc} [data under {where}]") from None
    except (OSError, ValueError, EOFError) as exc:  # no network, corrupt archive or pickle
        what = "download failed (no network?)" if download else "could not be read (corrupt file?)"
        raise DataError(f"{name} {what}: {type(exc).__name__}: {exc} [data under {where}]") from None


def load_mnist(split: str, root=None, download=False, cls_name: str = "MNIST", binarize: str | None = None,
               name: str = "mnist") -> DataSplit:
    """MNIST-like IDX data through torchvision; ``binarize`` is None, "dynamic" or "static"."""
    root = data_root(root)
    folder = root / cls_name / "raw"
    ds = _torchvision(cls_name, name, str(folder), root=str(root), train=split == "train", download=download)
    x = _images(ds.data)
    transform = None
    if binarize == "dynamic":
        transform = dynamic_binarize
    elif binarize == "static":  # one fixed Bernoulli draw per image, the same on every machine
        g = torch.Generator().manual_seed(1234 if split == "train" else 4321)
        x = torch.bernoulli(x, generator=g)
    return DataSplit(x, torch.as_tensor(ds.targets), transform=transform)


def load_stacked_mnist(split: str, root=None, download=False, size: int | None = None,
                       limit: int | None = None) -> DataSplit:
    """Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017): three MNIST digits drawn
    independently (fixed seed per split) as the R, G, B channels of one 28x28 image, so there are
    10^3 = 1,000 modes; label = 100 d_R + 10 d_G + d_B. As many images as the MNIST split has;
    only the first ``limit`` are built (the same ones: every triple is drawn first)."""
    mnist = load_mnist(split, root, download)
    g = torch.Generator().manual_seed(2017 if split == "train" else 7102)
    n = size or len(mnist)
    idx = torch.randint(0, len(mnist), (n, 3), generator=g)[:limit]
    x = torch.cat([mnist.x[idx[:, c]] for c in range(3)], 1)
    d = mnist.y[idx]
    return DataSplit(x, d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2], factors=d)


def load_cifar(split: str, root=None, download=False, cls_name: str = "CIFAR10", name: str = "cifar10") -> DataSplit:
    """CIFAR-10/100; a copy with only some training batches loads with a warning."""
    import torchvision.datasets as tvd

    root = data_root(root)
    base = getattr(tvd, cls_name)
    folder = root / base.base_folder
    if download:
        _torchvision(cls_name, name, str(folder), root=str(root), train=split == "train", download=True)
    wanted = base.train_list if split == "train" else base.test_list
    present = [entry for entry in wanted if (folder / entry[0]).is_file()]
    if not present:
        names = ", ".join(e[0] for e in wanted)
        raise DataError(f"{name} {split} split not found: put {names} under {folder} (or point --data-root / "
                        "DGMBENCH_DATA at the folder that holds them), or pass --download")

    class Partial(base):  # torchvision checks the md5 of every batch; we check what is there
        train_list = present if split == "train" else []
        test_list = present if split != "train" else []

        def _check_integrity(self):
            return True

    try:
        ds = Partial(root=str(root), train=split == "train", download=False)
    except Exception as exc:
        raise DataError(f"{name}: could not read {folder} ({type(exc).__name__}: {exc})") from None
    note = ""
    if len(present) < len(wanted):
        note = (f"{name} {split}: found {len(present)} of {len(wanted)} batch files "
                f"({len(ds.data)} images); using what is there")
        warnings.warn(note, PartialDataWarning, stacklevel=2)
    return DataSplit(_images(ds.data), torch.as_tensor(ds.targets), note=note)


def load_svhn(split: str, root=None, download=False) -> DataSplit:
    root = data_root(root)
    ds = _torchvision("SVHN", "svhn", str(root), root=str(root), split=split, download=download)
    return DataSplit(torch.as_tensor(ds.data).float() / 255.0, torch.as_tensor(ds.labels))


def load_celeba(split: str, root=None, download=False) -> DataSplit:
    """CelebA, centre-cropped to 148 and resized to 64x64 (the usual VAE/GAN preprocessing)."""
    import torchvision.transforms as T

    root = data_root(root)
    tf = T.Compose([T.CenterCrop(148), T.Resize(64), T.PILToTensor()])
    ds = _torchvision("CelebA", "celeba", str(root / "celeba"), root=str(root),
                      split="valid" if split == "test" else split, download=download, transform=tf)
    return DataSplit(torch.stack([ds[i][0] for i in range(len(ds))]).float() / 255.0)


def _omniglot_images(root: Path) -> tuple[list[Path], list[Path], str]:
    """Train/test image files: torchvision's background/evaluation sets when both are there,
    else the small background subsets (deduplicated, split 80/20 by a fixed permutation)."""
    base = root / "omniglot-py"
    full = [base / "images_background", base / "images_evaluation"]
    if all(d.is_dir() for d in full):
        return sorted(full[0].rglob("*.png")), sorted(full[1].rglob("*.png")), ""
    small = [base / "images_background_small1", base / "images_background_small2"]
    found = {}
    for d in small:
        for p in sorted(d.rglob("*.png")):
            found.setdefault(p.relative_to(d).as_posix(), p)  # Greek and Latin are in both subsets
    if not found:
        raise DataError(f"omniglot not found: unpack images_background.zip and images_evaluation.zip "
                        f"(or the images_background_small*.zip subsets) under {base}")
    files = [found[k] for k in sorted(found)]
    train, test = _split_indices(len(files), 0.2)
    note = (f"omniglot: full sets missing; using the small background subsets "
            f"({len(files)} of 32,460 images, split 80/20)")
    warnings.warn(note, PartialDataWarning, stacklevel=3)
    return [files[i] for i in train], [files[i] for i in test], note


def load_omniglot(split: str, root=None, download=False, binarize: str | None = None) -> DataSplit:
    """Omniglot resized from 105x105 to 28x28 (as in Burda et al. 2016), strokes = 1;
    labels are alphabets."""
    from PIL import Image

    root = data_root(root)
    if download:
        for background in (True, False):
            _torchvision("Omniglot", "omniglot", str(root / "omniglot-py"), root=str(root),
                         background=background, download=True)
    train, test, note = _omniglot_images(root)
    files = train if split == "train" else test
    alphabets = sorted({p.parent.parent.name for p in train + test})
    arr = np.stack([255 - np.asarray(Image.open(p).convert("L").resize((28, 28), Image.BILINEAR))
                    for p in files])
    y = torch.tensor([alphabets.index(p.parent.parent.name) for p in files])
    return DataSplit(_images(arr), y, transform=dynamic_binarize if binarize == "dynamic" else None, note=note)


def _read_image(loader, path: str):
    """One image, or a DataError naming a file that is not one (refused, not skipped: a silently
    smaller data set would change the numbers without a word)."""
    from PIL import UnidentifiedImageError

    try:
        return loader(path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"imagefolder: {path} is not a readable image ({type(exc).__name__}); "
                        "fix or remove the file") from None


def imagefolder_spec(path: str) -> DatasetSpec:
    """A user's own images in torchvision's ImageFolder layout (PATH/class/*.png), or
    PATH/train/class/... and PATH/test/class/... when both exist. Without those two folders the
    images are split 90/10 (train/test) by a fixed permutation, and the split says so in its note
    (stored with every run). All images are resized to the size of the first one; 8-bit pixels."""
    from PIL import Image

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"imagefolder: {root} is not a folder (expected PATH/<class>/<image files>)")
    first = next((p for p in sorted(root.rglob("*")) if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}), None)
    if first is None:
        raise DataError(f"imagefolder: no .png/.jpg images under {root}")
    try:
        with Image.open(first) as im:
            mode = "L" if im.mode in ("1", "L", "I", "I;16") else "RGB"  # grey stays 1 channel
            size = im.size
    except OSError as exc:
        raise DataError(f"imagefolder: {first} is not a readable image ({type(exc).__name__}); "
                        "fix or remove the file") from None
    channels = 1 if mode == "L" else 3

    def load(split: str, root_=None, download=False) -> DataSplit:
        import torchvision.datasets as tvd

        split_dir = root / split
        has_splits = (root / "train").is_dir() and (root / "test").is_dir()
        folder = split_dir if has_splits else root
        try:
            ds = tvd.ImageFolder(str(folder), loader=lambda p: Image.open(p).convert(mode).resize(size))
        except FileNotFoundError:  # torchvision: a class folder without a single image file
            empty = [d for d in sorted(folder.iterdir()) if d.is_dir() and not any(
                f.suffix.lower() in tvd.folder.IMG_EXTENSIONS for f in d.rglob("*") if f.is_file())]
            raise DataError(f"imagefolder: class folder {empty[0] if empty else folder} holds no image "
                            "(.png/.jpg...); add images or remove the folder") from None
        arr = np.stack([np.asarray(_read_image(ds.loader, p)) for p, _ in ds.samples])
        y = np.array([t for _, t in ds.samples])
        note = ""
        if not has_splits:
            train, test = _split_indices(len(arr), 0.1)
            note = (f"imagefolder: no train/ and test/ folders, so split 90/10 by a fixed permutation (seed 0): "
                    f"{len(train)} train, {len(test)} test images")
            keep = train if split == "train" else test
            arr, y = arr[keep], y[keep]
        return DataSplit(_images(arr), torch.as_tensor(y), note=note)

    classes = [d for d in root.iterdir() if d.is_dir()]
    return DatasetSpec(name=f"imagefolder:{path}", load=load, shape=(channels, size[1], size[0]), levels=256,
                       num_classes=len(classes) or None, description=f"images under {root}",
                       needs_data_root=False, plugin="dgmbench")
