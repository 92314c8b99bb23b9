"""benchmarks/inception_check.py: the TF 1.x bilinear resize it feeds the Inception, and its data."""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dgmbench.errors import DgmbenchError

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("inception_check", ROOT / "benchmarks" / "inception_check.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_tf1_resize_reads_source_pixel_i_times_in_over_out_without_half_pixel_offset():
    x = torch.tensor([[10.0, 20.0]]).expand(2, 2).reshape(1, 1, 2, 2)  # columns 10, 20
    out = check.tf1_resize(x, 4)[0, 0]
    # sources 0, 0.5, 1, 1.5 -> 10, 15, 20, 20 (the last clamped): TF 1.x, not torch's half-pixel 10, 12.5, 17.5, 20
    assert out[0].tolist() == [10.0, 15.0, 20.0, 20.0]
    assert torch.equal(out[:, 0], torch.full((4,), 10.0))


def test_tf1_resize_of_cifar_size_to_299_keeps_constant_images_and_the_corner_pixel():
    x = torch.rand(2, 3, 32, 32) * 255
    out = check.tf1_resize(x, 299)
    assert out.shape == (2, 3, 299, 299)
    assert torch.equal(out[:, :, 0, 0], x[:, :, 0, 0])
    assert torch.allclose(check.tf1_resize(torch.full((1, 3, 32, 32), 77.0)), torch.tensor(77.0))


def test_cifar10_first_reads_batches_in_order_and_names_a_short_split(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # the md5 of the real metadata
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    rows = np.arange(3 * 3072, dtype=np.int64).reshape(3, 3072) % 251
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": rows.astype(np.uint8), "labels": [0, 1, 2]}, f)
    images = check.cifar10_first(str(tmp_path), False, 2)
    assert images.shape == (2, 3, 32, 32) and images.dtype == torch.uint8
    assert images[1, 0, 0, 0].item() == rows[1, 0] and images[1, 2, 31, 31].item() == rows[1, 3071]
    with pytest.raises(DgmbenchError, match="only 3 CIFAR-10 images"):
        check.cifar10_first(str(tmp_path), False, 5)
