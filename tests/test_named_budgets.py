"""Every registered protocol sizes the named budgets smoke, cpu and gpu; each that trains says in
its note what fraction of the paper's schedule it is, and the leaderboard caption prints the note."""
from __future__ import annotations

import pytest

from dgmbench.budgets import BUDGETS, resolve_budget
from dgmbench.leaderboard import _budget_note
from dgmbench.plugins import load_registry

REG = load_registry()
PROTOCOLS = sorted(REG.items["protocols"])


@pytest.mark.parametrize("name", PROTOCOLS)
def test_each_protocol_sizes_cpu_and_gpu_with_a_note(name):
    protocol = REG.items["protocols"][name]
    assert {"cpu", "gpu"} <= set(protocol.budgets), f"{name} does not size cpu and gpu"
    for budget in ("smoke", "cpu", "gpu"):
        b = resolve_budget(budget, protocol.budgets)
        trains = b.epochs > 0 and (b.max_steps is None or b.max_steps > 1)
        if budget != "smoke" and trains:
            assert b.note, f"{name} {budget}: no note on its fraction of the paper's schedule"
        assert b.name == budget and b.max_seconds is None  # work, never time


def test_the_caption_prints_the_note_of_the_named_budget():
    protocol = REG.items["protocols"]["iwae-table"]
    note = resolve_budget("gpu", protocol.budgets).note
    said = _budget_note(protocol, "gpu")
    assert said.startswith(f"Budget gpu: {note}") and said.endswith(".") and "0.1 %" in note
    assert _budget_note(protocol, "gpu[max_steps=5]").startswith("Budget gpu: ")  # a refined budget keeps it
    assert _budget_note(protocol, "quick") == "" and _budget_note(protocol, None) == ""


@pytest.mark.parametrize("name", ["cifar10-bpd", "mnist-nll"])
def test_the_smoke_of_the_autoregressive_tables_draws_no_sample_grid(name):
    """An autoregressive model samples in one network pass per pixel and channel: a 64-sample grid
    of the paper's PixelCNN++ on CIFAR-10 takes over ten minutes on a 2-core CPU, a smoke run of it
    about twenty seconds without one."""
    assert resolve_budget("smoke", REG.items["protocols"][name].budgets).grid_samples == 0
    assert resolve_budget("smoke").grid_samples is None  # elsewhere the default grid of 64


def test_a_note_does_not_rename_the_budget():
    assert set(BUDGETS) >= {"smoke", "cpu", "gpu", "quick", "full"}
    assert resolve_budget("gpu", overrides={"note": "x"}).name == "gpu"
