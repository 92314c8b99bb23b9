"""Datasets: shapes, levels, splits, binarization, partial copies."""
import warnings

import pytest
import torch

from dgmbench.datasets import PartialDataWarning, load_cifar, load_digits, load_mnist, load_omniglot, load_toy2d
from dgmbench.plugins import load_registry


def _on_levels(x, levels):
    k = x * (levels - 1)
    return torch.allclose(k, k.round(), atol=1e-5) and x.min() >= 0 and x.max() <= 1


def test_digits_are_embedded_and_on_17_levels():
    train, test = load_digits("train"), load_digits("test")
    assert train.x.shape == (1438, 1, 8, 8) and test.x.shape == (359, 1, 8, 8)
    assert _on_levels(train.x, 17) and set(train.y.tolist()) == set(range(10))
    spec = load_registry().dataset("digits")
    assert spec.levels == 17 and spec.shape == (1, 8, 8)


@pytest.mark.parametrize("kind", ["moons", "8gaussians", "checkerboard"])
def test_toy2d(kind):
    a, b = load_toy2d("train", kind=kind), load_toy2d("train", kind=kind)
    assert a.x.shape == (20000, 2) and torch.equal(a.x, b.x)  # fixed seed
    assert load_toy2d("test", kind=kind).x.shape == (5000, 2)


def test_checkerboard_has_no_mass_on_the_white_squares():
    x = load_toy2d("train", kind="checkerboard").x
    cell = (torch.floor(x[:, 0]) + torch.floor(x[:, 1])) % 2
    assert cell.unique().numel() == 1


def test_mnist_and_binarizations(shared_data):
    full = load_mnist("test", root=shared_data)
    assert full.x.shape == (10000, 1, 28, 28) and _on_levels(full.x, 256)
    dyn = load_mnist("test", root=shared_data, binarize="dynamic")
    a, b = dyn.transform(dyn.x[:50]), dyn.transform(dyn.x[:50])
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)  # redrawn every time
    s1 = load_mnist("test", root=shared_data, binarize="static")
    s2 = load_mnist("test", root=shared_data, binarize="static")
    assert torch.equal(s1.x, s2.x) and set(s1.x.unique().tolist()) == {0.0, 1.0}
    assert (s1.x.mean() - full.x.mean()).abs() < 0.01  # Bernoulli(grey) keeps the mean


def test_partial_cifar10_warns_how_much_was_found(shared_data):
    with pytest.warns(PartialDataWarning, match="found 1 of 5 batch files \\(10000 images\\)"):
        train = load_cifar("train", root=shared_data)
    assert train.x.shape == (10000, 3, 32, 32) and _on_levels(train.x[:100], 256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test = load_cifar("test", root=shared_data)  # complete: no warning
    assert len(test) == 10000


def test_partial_omniglot_is_28x28_with_strokes_one(shared_data):
    with pytest.warns(PartialDataWarning, match="small background subsets"):
        train = load_omniglot("train", root=shared_data)
    with pytest.warns(PartialDataWarning):
        test = load_omniglot("test", root=shared_data)
    assert train.x.shape[1:] == (1, 28, 28)
    assert len(train) + len(test) == 4840  # 5,840 files, the 1,000 Greek+Latin duplicates counted once
    assert train.x.mean() < 0.3  # mostly background (0), strokes bright
