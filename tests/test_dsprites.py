"""The dSprites renderer and loader: the original's factor grid and image order, every factor
visible in the image (up to the shapes' rotational symmetries), the inverse used by oracle
encoders, and the reader of the original .npz on a tiny file in its format."""
import math

import numpy as np
import pytest
import torch

from dgmbench import dsprites
from dgmbench.errors import DataError


@pytest.fixture(scope="module")
def grid():
    return dsprites.RenderedDSprites()


def test_counts_match_the_original(grid):
    assert grid.factor_sizes == (3, 6, 40, 32, 32)
    assert grid.num_images == 737_280
    assert grid.factor_names == ("shape", "scale", "orientation", "position_x", "position_y")
    train, test = dsprites.load_dsprites("train"), dsprites.load_dsprites("test")
    assert len(train) == 737_280 and len(test) == 10_000
    assert tuple(train.factors.shape) == (737_280, 5) and train.ground_truth is test.ground_truth
    assert train.ground_truth.factor_sizes == grid.factor_sizes
    x, _ = next(train.subset(100).batches(32))
    assert x.shape == (32, 1, 64, 64) and set(x.unique().tolist()) <= {0.0, 1.0}


def test_image_order_is_the_originals(grid):
    """Image i has factors unravel_index(i, sizes): position y varies fastest."""
    i = np.array([0, 1, 32, 737_279])
    f = grid.factors_at(i)
    assert f.tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [2, 5, 39, 31, 31]]
    assert (grid.index(f) == i).all()
    a, b = grid.images_at(i[:2])
    assert torch.equal(torch.roll(a, 1, dims=1), b)  # one step of position y = one pixel down


def test_every_factor_changes_the_image_up_to_symmetry(grid):
    """Positions move a non-empty sprite; sprites of different shape or scale always differ; two
    orientations of one shape and scale draw the same pixels only when they differ by a multiple of
    the shape's symmetry angle (square 90 degrees, ellipse 180, heart 360) up to 1.5 grid steps
    (a step: 360/39 degrees): 0 and 2 pi for every shape, and small squares/ellipses turned by about
    90/180 degrees (at the two smallest scales even neighbouring orientations of a square near 90
    degrees draw alike: a 9-pixel square turned by 9 degrees keeps its pixels)."""
    sprites = grid.sprites.reshape(720, -1)
    assert sprites.any(1).all()
    seen = {}
    for i in range(720):
        seen.setdefault(sprites[i].tobytes(), []).append(np.unravel_index(i, (3, 6, 40)))
    step = 2 * math.pi / 39
    duplicates = 0
    for group in seen.values():
        for a in group:
            for b in group:
                if a >= b:
                    continue
                duplicates += 1
                assert a[:2] == b[:2], (a, b)
                sym = (math.pi / 2, math.pi, 2 * math.pi)[a[0]]
                d = (b[2] - a[2]) * step
                assert abs(d - round(d / sym) * sym) <= 1.5 * step, (a, b)
    heart = [g for g in seen.values() if len(g) > 1 and g[0][0] == 2]
    assert sorted((int(g[0][2]), int(g[1][2])) for g in heart) == [(0, 39)] * 6  # hearts: only 0 = 2 pi
    assert duplicates < 150  # of 3 * 6 * (40 * 39 / 2) = 14,040 pairs


def test_factors_of_inverts_the_renderer(grid):
    rng = np.random.default_rng(0)
    f = grid.sample_factors(300, rng)
    back = grid.factors_of(grid.images_for_factors(f))
    assert torch.equal(grid.images_for_factors(back), grid.images_for_factors(f))  # same pixels
    same = (back == f).all(1)
    assert same.mean() > 0.85 and (back[:, [0, 1, 3, 4]] == f[:, [0, 1, 3, 4]]).all(1).mean() > 0.97


def write_tiny(path, keep=(slice(None), slice(0, 6, 5), slice(0, 40, 13), slice(0, 32, 31), slice(3, 5))):
    """A file in the original's format holding a smaller grid of the same factors."""
    g = dsprites.RenderedDSprites()
    idx = np.arange(g.num_images).reshape(g.factor_sizes)[keep].ravel()
    classes = np.concatenate([np.zeros((len(idx), 1), np.int64), g.factors_at(idx)], 1)
    imgs = g.images_at(idx)[:, 0].numpy().astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(idx))  # row order does not matter
    np.savez_compressed(path, imgs=imgs[order], latents_classes=classes[order],
                        latents_values=classes[order].astype(np.float64))
    return idx, imgs


def test_reads_a_file_in_the_original_format(tmp_path):
    idx, imgs = write_tiny(tmp_path / dsprites.FILE)
    d = dsprites.FileDSprites(tmp_path / dsprites.FILE)
    assert d.factor_sizes == (3, 2, 4, 2, 2) and d.num_images == len(idx)
    assert [v.tolist() for v in d.factor_values][1:] == [[0, 5], [0, 13, 26, 39], [0, 31], [3, 4]]
    f = d.sample_factors(50, np.random.default_rng(1))
    want = dsprites.RenderedDSprites().images_for_factors(f)
    assert torch.equal(d.images_for_factors(f), want)
    dsprites._GRIDS.clear()
    split = dsprites.load_dsprites("train", root=tmp_path)
    assert isinstance(split.ground_truth, dsprites.FileDSprites) and "read from" in split.note
    dsprites._GRIDS.clear()


def test_a_broken_file_is_one_clear_error(tmp_path):
    np.savez(tmp_path / "bad.npz", imgs=np.zeros((3, 64, 64), np.uint8))
    with pytest.raises(DataError, match="latents_classes"):
        dsprites.FileDSprites(tmp_path / "bad.npz")
    idx, _ = write_tiny(tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as f:
        np.savez(tmp_path / "holes.npz", imgs=f["imgs"][1:], latents_classes=f["latents_classes"][1:])
    with pytest.raises(DataError, match="full grid"):
        dsprites.FileDSprites(tmp_path / "holes.npz")
