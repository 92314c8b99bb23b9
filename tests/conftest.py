"""Shared fixtures: the shared data folder, isolated results/caches, a CLI runner, and a folder to
install throwaway plugins in (the helpers the tests import are in harness_helpers.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness_helpers import run_cli

SHARED_DATA = Path(os.environ.get("DGMBENCH_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def partial_cifar10(shared_data, tmp_path) -> Path:
    """A data root holding one of CIFAR-10's five training batches (links into the shared copy),
    its test batch and metadata: the partial copy the loader must warn about."""
    src = shared_data / "cifar-10-batches-py"
    if not (src / "data_batch_1").is_file():
        pytest.skip(f"CIFAR-10 not found at {src}")
    root = tmp_path / "partial-data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (root / "cifar-10-batches-py" / name).symlink_to(src / name)
    return root


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own results file, cache and working folder."""
    monkeypatch.setenv("DGMBENCH_RESULTS", str(tmp_path / "results" / "results.sqlite"))
    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A folder on sys.path and PYTHONPATH where tests drop throwaway plugins."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    import importlib

    importlib.invalidate_caches()
    return root


@pytest.fixture
def cli():
    return run_cli
