"""Shared fixtures: the shared data folder, isolated results/caches, a CLI runner, and a way to
install throwaway plugins through the real entry-point mechanism (a dist-info on the path)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("DGMBENCH_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own results file, cache and working folder."""
    monkeypatch.setenv("DGMBENCH_RESULTS", str(tmp_path / "results" / "results.sqlite"))
    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    monkeypatch.chdir(tmp_path)


def make_plugin(root: Path, name: str, source: str, entry_points: dict[str, str] | None = None,
                version: str = "0.0.1") -> Path:
    """Write module ``name`` and a ``<name>-<version>.dist-info`` declaring its entry points into
    ``root``; putting ``root`` on sys.path / PYTHONPATH installs it as far as importlib.metadata
    (and so dgmbench) can tell."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    eps = entry_points or {name: name}
    (info / "entry_points.txt").write_text("[dgmbench]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return root


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


def run_cli(*args, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m dgmbench ARGS`` in a fresh process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "dgmbench", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return run_cli
