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


def test_partial_cifar10_warns_how_much_was_found(partial_cifar10, shared_data):
    with pytest.warns(PartialDataWarning, match="found 1 of 5 batch files \\(10000 images\\)"):
        train = load_cifar("train", root=partial_cifar10)
    assert train.x.shape == (10000, 3, 32, 32) and _on_levels(train.x[:100], 256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        test = load_cifar("test", root=shared_data)  # complete: no warning
        if (shared_data / "cifar-10-batches-py" / "data_batch_5").is_file():
            assert len(load_cifar("train", root=shared_data)) == 50000  # the whole training set, no warning
    assert len(test) == 10000


def test_partial_omniglot_is_28x28_with_strokes_one(shared_data):
    with pytest.warns(PartialDataWarning, match="small background subsets"):
        train = load_omniglot("train", root=shared_data)
    with pytest.warns(PartialDataWarning):
        test = load_omniglot("test", root=shared_data)
    assert train.x.shape[1:] == (1, 28, 28)
    assert len(train) + len(test) == 4840  # 5,840 files, the 1,000 Greek+Latin duplicates counted once
    assert train.x.mean() < 0.3  # mostly background (0), strokes bright


# -- loaders for data not in ../shared/data, fed tiny files in torchvision's own formats --------------
# Each image has one marked pixel (row 0, column 5, channel 1 where there are channels), so a loader
# that transposes height and width or mixes up channels fails.

def _marked(n, h, w, c=None):
    import numpy as np

    x = np.zeros((n, h, w) if c is None else (n, h, w, c), dtype=np.uint8)
    if c is None:
        x[:, 0, 5] = 255
    else:
        x[:, 0, 5, 1] = 255
    return x


def _check_marked(split, channels, n, labels):
    assert split.x.shape == (n, channels, *split.x.shape[2:]) and split.x.dtype == torch.float32
    assert _on_levels(split.x, 256)
    assert (split.x[:, channels - 1 if channels == 1 else 1, 0, 5] == 1).all()
    assert split.x.sum() == n  # nothing else lit
    assert split.y.tolist() == labels


def test_fashion_mnist_reads_idx_files(tmp_path):
    import numpy as np

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = _marked(n, 28, 28)
        header = np.array([2051, n, 28, 28], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        labels = np.arange(n, dtype=np.uint8) % 10
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([2049, n], dtype=">i4").tobytes()
                                                          + labels.tobytes())
    split = load_mnist("test", tmp_path, cls_name="FashionMNIST", name="fashion-mnist")
    _check_marked(split, 1, 4, [0, 1, 2, 3])
    assert load_mnist("train", tmp_path, cls_name="FashionMNIST").x.shape == (6, 1, 28, 28)


def test_cifar100_reads_fine_labels(tmp_path, monkeypatch):
    import pickle

    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # md5s of the real files
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x = _marked(3, 32, 32, 3).transpose(0, 3, 1, 2).reshape(3, -1)  # CIFAR stores rows of CHW
    for name in ("train", "test"):
        (folder / name).write_bytes(pickle.dumps({"data": x, "fine_labels": [7, 42, 99], "coarse_labels": [0] * 3}))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [str(i) for i in range(100)]}))
    _check_marked(load_cifar("test", tmp_path, cls_name="CIFAR100", name="cifar100"), 3, 3, [7, 42, 99])


def test_svhn_reads_mat_files_and_maps_label_10_to_0(tmp_path, monkeypatch):
    import scipy.io
    import torchvision.datasets.svhn as tv_svhn

    from dgmbench.datasets import load_svhn

    monkeypatch.setattr(tv_svhn, "check_integrity", lambda *a, **k: True)
    x = _marked(4, 32, 32, 3).transpose(1, 2, 3, 0)  # the .mat files hold (H, W, C, N)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": [[10], [1], [2], [9]]})
    _check_marked(load_svhn("test", tmp_path), 3, 4, [0, 1, 2, 9])


def test_svhn_missing_says_where(tmp_path):
    from dgmbench.datasets import load_svhn
    from dgmbench.errors import DataError

    with pytest.raises(DataError, match=f"svhn not found under {tmp_path}"):
        load_svhn("train", tmp_path)


def test_truncated_idx_file_is_called_corrupt_not_missing(tmp_path):
    import numpy as np

    from dgmbench.errors import DataError

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    header = np.array([2051, 10, 28, 28], dtype=">i4").tobytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(header + bytes(100))  # 10 images promised, 100 bytes given
    (raw / "t10k-labels-idx1-ubyte").write_bytes(np.array([2049, 10], dtype=">i4").tobytes() + bytes(10))
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    with pytest.raises(DataError, match=r"mnist could not be read \(corrupt or truncated file\?\)"):
        load_mnist("test", tmp_path)
    (raw / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="mnist not found under"):
        load_mnist("test", tmp_path)
