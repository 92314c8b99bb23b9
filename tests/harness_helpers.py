"""Helpers the core tests import: a CLI runner, and a way to install throwaway plugins through the
real entry-point mechanism (a dist-info on the path)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


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


def run_cli(*args, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m dgmbench ARGS`` in a fresh process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "dgmbench", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
