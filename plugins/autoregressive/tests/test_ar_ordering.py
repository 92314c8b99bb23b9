"""The autoregressive property, checked with autograd, and Gated PixelCNN's missing blind spot."""
import pytest
import torch
from ar_helpers import MODELS, build, dependence, raster_index


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(1, 4, 4), (3, 4, 4)])
def test_conditionals_ignore_current_and_later_subpixels(name, shape):
    """Sub-pixel (i, j, c)'s outputs have zero gradient w.r.t. (i, j, c) and every later sub-pixel
    (raster order, R < G < B), a nonzero one w.r.t. the sub-pixel just before (or the pixel above, at
    a row start), and none across the batch."""
    model = build(name, shape)
    order = raster_index(shape)
    x = torch.rand(2, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    C, H, W = shape
    for i in range(H):
        for j in range(W):
            for c in range(C):
                g = dependence(model, x, c, i, j)
                t = order[c, i, j]
                assert g[1].max() == 0, "examples of a batch must not interact"
                assert g[0][order >= t].max() == 0, f"{name}: ({i},{j},{c}) sees itself or a later sub-pixel"
                if j > 0 or c > 0:  # the sub-pixel just before, in the same row
                    prev = (order == t - 1).nonzero()[0].tolist()
                    assert g[0][tuple(prev)] > 0, f"{name}: ({i},{j},{c}) ignores the sub-pixel just before it"
                elif i > 0:  # a row start: the pixel above (the end of the previous row may be a blind spot)
                    assert g[0][:, i - 1, j].max() > 0, f"{name}: ({i},{j},{c}) ignores the pixel above"


def previous_pixels_unseen(model, shape, i, j):
    x = torch.rand(1, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g = dependence(model, x, 0, i, j)[0].sum(0)  # (H, W)
    W = shape[2]
    before = torch.arange(g.numel()).view_as(g) < i * W + j
    return [tuple(p) for p in (before & (g == 0)).nonzero().tolist()]


def test_gated_pixelcnn_has_no_blind_spot_but_pixelcnn_does():
    """With enough layers every earlier pixel reaches every later one in Gated PixelCNN; stacked
    masked 3x3 convolutions (PixelCNN) miss the pixels up and to the right (the blind spot)."""
    shape = (1, 5, 5)
    gated = build("gated-pixelcnn", shape, layers=5)
    for i in range(5):
        for j in range(5):
            assert previous_pixels_unseen(gated, shape, i, j) == [], (i, j)
    plain = build("pixelcnn", shape, blocks=4)
    blind = previous_pixels_unseen(plain, shape, 4, 0)
    assert (3, 4) in blind and (2, 4) in blind, blind  # up-right of (4, 0): out of PixelCNN's reach
    assert previous_pixels_unseen(plain, shape, 4, 4) == []  # up-left triangle: all seen


@pytest.mark.parametrize("name", MODELS)
def test_cropped_rows_give_the_same_outputs(name):
    """What the cached sampler relies on: outputs on rows [0, r) are the same when the image is
    cropped to those rows (r a multiple of the model's downsampling factor)."""
    shape = (3, 8, 8)
    model = build(name, shape)
    x = torch.rand(2, *shape, dtype=torch.float64)
    full = model.conditionals(x)
    for r in range(model.row_multiple, 8, model.row_multiple):
        torch.testing.assert_close(model.conditionals(x[:, :, :r]), full[:, :, :r], rtol=1e-10, atol=1e-10)
