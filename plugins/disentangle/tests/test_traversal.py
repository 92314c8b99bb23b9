"""traversals.png: rows ordered by mean KL and labelled with the latent's index and KL, columns
with the swept value."""
import math

import numpy as np
import torch
from dgmbench_disentangle.traversal import kl_order, row_labels, save_traversals
from PIL import Image

from dgmbench.model import Model


class Known(Model):
    """q(z_j | x) = N(0, s_j^2) for every x: KL_j = (s_j^2 - 1) / 2 - log s_j."""

    likelihood = "none"
    SCALES = torch.tensor([1.0, 0.2, 0.5])

    def __init__(self):
        super().__init__({})
        self.p = torch.nn.Parameter(torch.zeros(1))

    def capabilities(self):
        return ["encode"]

    def posterior(self, x):
        mu = torch.zeros(len(x), 3)
        return torch.distributions.Independent(torch.distributions.Normal(mu, self.SCALES.expand(len(x), 3)), 1)

    def encode(self, x):
        return [torch.zeros(len(x), 3)]

    def decode(self, z):
        return torch.sigmoid(z[:, :1, None, None].expand(len(z), 1, 16, 16))


def test_rows_follow_the_kl_and_carry_it():
    model, x = Known(), torch.rand(4, 1, 16, 16)
    order, scores, kind = kl_order(model, x, model.encode(x)[0])
    kl = [(s * s - 1) / 2 - math.log(s) for s in Known.SCALES.tolist()]   # 0, 1.13, 0.32
    assert order.tolist() == [1, 2, 0] and kind == "KL"
    np.testing.assert_allclose(scores.numpy(), [kl[1], kl[2], kl[0]], rtol=1e-6)
    assert row_labels(order, scores, kind) == ["input", "recon.", f"z1 KL {kl[1]:.2f}", f"z2 KL {kl[2]:.2f}",
                                               "z0 KL 0.00"]


def test_the_grid_has_a_labelled_margin_and_header(tmp_path):
    model = Known()
    path = save_traversals(model, torch.rand(5, 1, 16, 16), tmp_path / "traversals.png", steps=5)
    with Image.open(path) as im:
        pixels = np.asarray(im)
    rows, cols = 2 + 3, 5
    grid_h, grid_w = 1 + rows * 17, 1 + cols * 17
    assert pixels.shape[0] > grid_h and pixels.shape[1] > grid_w          # room for the labels
    left, top = pixels.shape[1] - grid_w, pixels.shape[0] - grid_h
    for r in range(rows):                                                  # text in every row's margin
        band = pixels[top + 1 + r * 17: top + (r + 1) * 17, :left - 2]
        assert (band < 128).any(), r
    assert (pixels[:top, left:] < 128).any()                               # the column values
