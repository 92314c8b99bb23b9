"""A refactor of the run path stores the same rows: the jobs of ``tests/data/make_run_oracle.py``
(a smoke ``reproduce``, a ``run``, an ``eval`` of its checkpoint, a one-call fit) are run again
and compared with what that script stored in ``tests/data/run_oracle.json``.

Same torch build and machine type: every value bit for bit (the runs are deterministic on the
CPU). Another build may round differently (other kernels), so there the numbers are compared to
a relative 1e-4 and everything else exactly."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "data"


def _oracle():
    spec = importlib.util.spec_from_file_location("make_run_oracle", HERE / "make_run_oracle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(want, got, exact: bool, where: str) -> None:
    if isinstance(want, float) and isinstance(got, float) and not exact:
        assert math.isclose(want, got, rel_tol=1e-4, abs_tol=1e-9), f"{where}: {got} != {want}"
    elif isinstance(want, dict):
        assert want.keys() == got.keys(), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _same(want[k], got[k], exact, f"{where}.{k}")
    elif isinstance(want, list):
        assert len(want) == len(got), f"{where}: {len(got)} items != {len(want)}"
        for i, (a, b) in enumerate(zip(want, got)):
            _same(a, b, exact, f"{where}[{i}]")
    else:
        assert want == got, f"{where}: {got!r} != {want!r}"


def test_the_run_path_stores_the_rows_of_the_oracle(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    module = _oracle()
    stored = json.loads(module.ORACLE.read_text())
    rows = json.loads(json.dumps(module.collect()))  # the same float round trip as the file
    exact = stored["environment"] == module.environment()
    assert [r["status"] for r in rows] == ["ok"] * len(rows)
    _same(stored["rows"], rows, exact, "rows")


def test_the_comparison_can_fail():
    with pytest.raises(AssertionError):
        _same({"a": [1.0, 2.0]}, {"a": [1.0, 2.0000001]}, True, "x")
    with pytest.raises(AssertionError):
        _same({"a": [1.0, 2.0]}, {"a": [1.0, 2.1]}, False, "x")
    _same({"a": [1.0, 2.0]}, {"a": [1.0, 2.0000001]}, False, "x")
