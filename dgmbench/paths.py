"""Where dgmbench keeps things on disk: the results file, the run folders, the cache, the data.

Each place has one default and one environment variable; every module asks here.

* results file: ``--results``, env ``DGMBENCH_RESULTS``, default ``dgmbench-results/results.sqlite``
* run folders: ``--out``, default ``runs/`` beside the results file
* cache (feature-network weights, reference statistics, NLL plans, worker run folders):
  env ``DGMBENCH_CACHE``, default ``~/.cache/dgmbench``
* datasets: ``--data-root``, env ``DGMBENCH_DATA``, default ``<cache>/data``
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_RESULTS = "dgmbench-results/results.sqlite"


def results_file(path: str | Path | None = None) -> Path:
    """The results file: ``path`` when given, else ``$DGMBENCH_RESULTS``, else the default."""
    return Path(path or os.environ.get("DGMBENCH_RESULTS") or DEFAULT_RESULTS)


def runs_folder(results: str | Path | None = None, out: str | Path | None = None) -> Path:
    """The folder that holds one sub-folder per run: ``out``, else ``runs/`` beside the results file."""
    return Path(out) if out else results_file(results).parent / "runs"


def cache_dir() -> Path:
    """``$DGMBENCH_CACHE``, else ``~/.cache/dgmbench``."""
    return Path(os.environ.get("DGMBENCH_CACHE") or Path.home() / ".cache" / "dgmbench")


def data_root(root: str | Path | None = None) -> Path:
    """``root`` when given, else ``$DGMBENCH_DATA``, else ``<home cache>/data``."""
    return Path(root or os.environ.get("DGMBENCH_DATA") or Path.home() / ".cache" / "dgmbench" / "data")


def check_writable(path: str | Path, flag: str) -> None:
    """Refuse, before any work, a place dgmbench cannot write: ``path`` (a file or folder to
    create or write) must lie in a writable folder. One line naming the folder and ``flag``."""
    from .errors import StoreError

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"cannot write {path} ({flag}): {folder} is a file, not a folder; pass another {flag}")
    if not _can_write(folder):
        raise StoreError(f"cannot write {path} ({flag}): folder {folder} is read-only; make it writable or pass "
                         f"another {flag}")


def _can_write(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried: permission bits do not bind root, and a
    read-only file system binds everyone)."""
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
