"""Fixtures for a plugin's test suite (dgmbench's own plugins use them exactly as a third party would).

In the plugin's ``tests/conftest.py``::

    from dgmbench.testing import isolated  # noqa: F401  (an autouse fixture: importing it enables it)

Every test then gets its own results file (``$DGMBENCH_RESULTS``), cache (``$DGMBENCH_CACHE``) and
working folder, and starts from ``torch.manual_seed(0)``: tests never see each other's runs, nor
the networks a user has cached. Imported only by test suites (it needs pytest).
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DGMBENCH_RESULTS", str(tmp_path / "results" / "results.sqlite"))
    monkeypatch.setenv("DGMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
