"""dSprites (Matthey et al. 2017): 64x64 binary images of a sprite drawn from five ground-truth
factors, every combination exactly once (3 x 6 x 40 x 32 x 32 = 737,280 images):

    shape        3   square, ellipse, heart
    scale        6   linspace(0.5, 1, 6)
    orientation 40   linspace(0, 2 pi, 40)   (both ends: 0 and 2 pi draw the same image)
    position_x  32   linspace(0, 1, 32)      (the sprite's centre moves one pixel per step, 16..47)
    position_y  32   linspace(0, 1, 32)

Image i has the factors ``np.unravel_index(i, (3, 6, 40, 32, 32))``: the order of the original
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (its constant colour dropped). When that file is
under the data root it is read; otherwise the images are rendered here, lazily: the 720 sprites
(shape x scale x orientation) are drawn once (a pixel is on when its centre lies inside the
rotated shape) and each image is a sprite pasted at its position, so nothing of 737,280 x 64 x 64
is ever held in memory. Two grid points draw the same pixels only through a shape's rotational
symmetry: orientation 0 and 2 pi for every shape, and small squares (ellipses) turned by about 90
(180) degrees, up to 1.5 orientation steps (tests/test_dsprites.py checks exactly this); every other
change of a factor changes the image. Our shapes are drawn to the original's description, not copied from it:
numbers on the two are comparable in kind, not to the digit.

Splits: ``train`` is all images in a fixed random order (so that ``--max-train-examples`` takes a
random subset); ``test`` a fixed random 10,000 of them (the disentanglement
metrics draw their own images from the factor sampler, ``DataSplit.ground_truth``).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .data import DataSplit
from .errors import DataError

FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTORS = (("shape", 3), ("scale", 6), ("orientation", 40), ("position_x", 32), ("position_y", 32))
SIZE = 64
TEST_SIZE = 10_000
_RADIUS = 13  # sprites are drawn on a (2 R + 1)^2 canvas around their centre pixel
_UNIT = 12.0  # pixels per shape unit at scale 1


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the point (u, v) (shape units, y down) lies inside the upright shape."""
    if shape == 0:  # square, side 1.5
        return np.maximum(np.abs(u), np.abs(v)) <= 0.75
    if shape == 1:  # ellipse, semi-axes 1 and 0.5
        return u ** 2 + (v / 0.5) ** 2 <= 1.0
    x, y = u / 0.75, 0.12 - v / 0.75  # heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, centred, point down
    return (x ** 2 + y ** 2 - 1) ** 3 - x ** 2 * y ** 3 <= 0


def render_sprites() -> np.ndarray:
    """All 720 sprites, bool (3, 6, 40, 2R+1, 2R+1), centred on the canvas's middle pixel.
    Rotating about a pixel centre keeps the pixel grid; a pixel is on when its centre is inside."""
    d = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    scale = np.linspace(0.5, 1.0, 6)[:, None, None, None] * _UNIT
    theta = np.linspace(0.0, 2 * math.pi, 40)[None, :, None, None]
    u = (np.cos(theta) * dx + np.sin(theta) * dy) / scale  # the pixel rotated back by -theta
    v = (-np.sin(theta) * dx + np.cos(theta) * dy) / scale
    return np.stack([_inside(shape, u, v) for shape in range(3)])


class FactorGrid:
    """A dataset whose images are indexed by a full grid of discrete factors: the factor sampler
    the disentanglement metrics use (``sample_factors``, ``images_for_factors``), in the manner of
    disentanglement_lib's GroundTruthData. Subclasses give ``_images(index) -> uint8 (n, H, W)``."""

    def __init__(self, names, values):
        self.factor_names = tuple(names)
        self.factor_values = [np.asarray(v) for v in values]  # the classes each factor takes
        self.factor_sizes = tuple(len(v) for v in self.factor_values)
        self.num_images = math.prod(self.factor_sizes)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n factor vectors drawn uniformly from the grid, int (n, K)."""
        return np.stack([v[rng.integers(0, len(v), n)] for v in self.factor_values], 1)

    def index(self, factors: np.ndarray) -> np.ndarray:
        """The image index of each factor vector (row-major over the grid, like the .npz)."""
        levels = [np.searchsorted(v, np.asarray(factors)[:, k]) for k, v in enumerate(self.factor_values)]
        return np.ravel_multi_index(levels, self.factor_sizes)

    def factors_at(self, index: np.ndarray) -> np.ndarray:
        levels = np.unravel_index(np.asarray(index), self.factor_sizes)
        return np.stack([v[lv] for v, lv in zip(self.factor_values, levels)], -1)

    def images_for_factors(self, factors: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """The images of the given factor vectors, float (n, 1, 64, 64) in {0, 1}."""
        return self.images_at(self.index(factors))

    def images_at(self, index: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self._images(np.asarray(index))).unsqueeze(1).float()


class RenderedDSprites(FactorGrid):
    """The images drawn here from the five factors (see the module docstring)."""

    def __init__(self):
        super().__init__([n for n, _ in FACTORS], [np.arange(k) for _, k in FACTORS])
        self.sprites = render_sprites()

    def _images(self, index: np.ndarray) -> np.ndarray:
        shape, scale, orient, px, py = np.unravel_index(index, self.factor_sizes)
        r = _RADIUS
        canvas = np.zeros((len(index), SIZE + 2 * r, SIZE + 2 * r), dtype=np.uint8)
        for i in range(len(index)):  # centre pixel (16 + py, 16 + px); the canvas adds r on each side
            y0, x0 = 16 + py[i], 16 + px[i]
            canvas[i, y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1] = self.sprites[shape[i], scale[i], orient[i]]
        return canvas[:, r:r + SIZE, r:r + SIZE]

    def factors_of(self, images: torch.Tensor, rng: np.random.Generator | None = None) -> np.ndarray:
        """The factors that drew each image (the inverse of the renderer, for oracle encoders):
        the sprite is found by its cropped pixels, the position by its offset. An image that several
        grid points draw alike (orientation 0 and 2 pi; a small square turned by about 90 degrees)
        gets one of them drawn uniformly with ``rng`` (so uniform factors stay uniform), else the first."""
        if not hasattr(self, "_lookup"):
            self._lookup = {}
            for key in np.ndindex(*self.sprites.shape[:3]):
                crop, (top, left) = _crop(self.sprites[key])
                self._lookup.setdefault((crop.shape, crop.tobytes()), []).append((*key, top, left))
        out = []
        for img in images.reshape(-1, SIZE, SIZE).cpu().numpy() > 0.5:
            crop, (top, left) = _crop(img)
            found = self._lookup.get((crop.shape, crop.tobytes()))
            if found is None:
                raise ValueError("an image that the dSprites renderer did not draw")
            shape, scale, orient, t0, l0 = found[0 if rng is None else rng.integers(len(found))]
            out.append((shape, scale, orient, left - l0 - 16 + _RADIUS, top - t0 - 16 + _RADIUS))
        return np.asarray(out, dtype=np.int64)


def _crop(mask: np.ndarray):
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], (int(rows[0]), int(cols[0]))


class FileDSprites(FactorGrid):
    """The original .npz (keys ``imgs``, ``latents_classes``), or any file in its format whose
    rows form a full grid of factor classes (a smaller grid works too). Images are kept bit-packed
    (8 pixels per byte: 377 MB for the full file)."""

    def __init__(self, path: Path):
        try:
            with np.load(path, allow_pickle=False) as f:
                imgs, classes = f["imgs"], np.asarray(f["latents_classes"])
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"dsprites: {path} could not be read as the dSprites .npz "
                            f"(keys imgs, latents_classes): {type(exc).__name__}: {exc}") from None
        if imgs.ndim != 3 or imgs.shape[1:] != (SIZE, SIZE) or classes.shape != (len(imgs), 6):
            raise DataError(f"dsprites: {path} has imgs {imgs.shape} and latents_classes {classes.shape}; "
                            f"expected (N, 64, 64) and (N, 6)")
        classes = classes[:, 1:]  # drop the constant colour
        values = [np.unique(classes[:, k]) for k in range(5)]
        super().__init__([n for n, _ in FACTORS], values)
        if len(imgs) != self.num_images:
            raise DataError(f"dsprites: {path} holds {len(imgs)} images, not the full grid of its factor classes "
                            f"({' x '.join(map(str, self.factor_sizes))} = {self.num_images})")
        order = np.empty(len(imgs), dtype=np.int64)
        order[self.index(classes)] = np.arange(len(imgs))
        self.packed = np.packbits(imgs[order] > 0, axis=-1)

    def _images(self, index: np.ndarray) -> np.ndarray:
        return np.unpackbits(self.packed[index], axis=-1)


class LazyImages:
    """``DataSplit.x`` for images drawn on demand: indexing with an index tensor or array draws
    those images (float (n, 1, 64, 64)); a slice gives a smaller LazyImages (``DataSplit.subset``)."""

    def __init__(self, grid: FactorGrid, index: np.ndarray):
        self.grid, self.index = grid, np.asarray(index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self):
        return (len(self), 1, SIZE, SIZE)

    ndim = 4
    dtype = torch.float32
    device = torch.device("cpu")

    @property
    def nbytes(self) -> int:
        return len(self) * SIZE * SIZE * 4  # as float32 once drawn

    def pin_memory(self) -> "LazyImages":
        return self  # drawn batch by batch on the CPU anyway

    def to(self, device, non_blocking: bool = False) -> torch.Tensor:
        """Every image drawn, as one tensor on ``device`` (a GPU keeps a small split resident)."""
        return torch.cat([self[torch.arange(i, min(i + 8192, len(self)))] for i in range(0, len(self), 8192)]
                         ).to(device, non_blocking=non_blocking)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return LazyImages(self.grid, self.index[item])
        if isinstance(item, torch.Tensor):
            item = item.cpu().numpy()
        return self.grid.images_at(self.index[item])


_GRIDS: dict = {}


def ground_truth(root=None) -> FactorGrid:
    """The original file when it is under the data root, else the renderer (one per process)."""
    from .datasets import data_root

    path = data_root(root) / "dsprites" / FILE
    alt = data_root(root) / FILE
    path = path if path.is_file() else alt if alt.is_file() else None
    key = str(path)
    if key not in _GRIDS:
        _GRIDS[key] = FileDSprites(path) if path else RenderedDSprites()
    return _GRIDS[key]


def load_dsprites(split: str, root=None, download=False) -> DataSplit:
    """dSprites: all 737,280 images for ``train``, a fixed random 10,000 for ``test``; ``factors``
    holds each image's factor classes and ``ground_truth`` the factor sampler."""
    grid = ground_truth(root)
    order = np.random.default_rng(0).permutation(grid.num_images)  # a subset (--max-train-examples) is random
    index = order if split == "train" else np.sort(order[:min(TEST_SIZE, grid.num_images)])
    note = (f"dsprites: rendered ({FILE} not under the data root)" if isinstance(grid, RenderedDSprites)
            else f"dsprites: read from {FILE}")
    return DataSplit(LazyImages(grid, index), factors=torch.from_numpy(grid.factors_at(index)),
                     note=note, meta={"ground_truth": grid})
