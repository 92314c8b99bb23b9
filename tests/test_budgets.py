"""Budget resolution: harness -> protocol -> model -> command line."""
import pytest

from dgmbench.budgets import BUDGETS, resolve_budget
from dgmbench.errors import DgmbenchError, UnknownName


def test_layers_refine_in_order_and_metric_options_merge():
    b = resolve_budget("quick", {"quick": {"epochs": 7, "metric_options": {"nll_k": 100}}},
                       {"quick": {"lr": 3e-4}, "full": {"lr": 1.0}})
    assert (b.name, b.epochs, b.lr) == ("quick", 7, 3e-4)
    assert b.metric_options["nll_k"] == 100
    assert b.metric_options["sample_metric_n"] == BUDGETS["quick"].metric_options["sample_metric_n"]


def test_explicit_overrides_rename_the_budget():
    b = resolve_budget("quick", overrides={"max_steps": 60, "epochs": None})
    assert b.name == "quick[max_steps=60]" and b.max_steps == 60
    assert resolve_budget("smoke").name == "smoke"
    b = resolve_budget("quick", overrides={"max_steps": 60, "metric_options": {"nll_k": 100}})
    assert b.name == "quick[max_steps=60,nll_k=100]" and b.metric_options["nll_k"] == 100


def test_budgets_are_work_and_the_time_cap_is_only_a_command_line_safety_cap():
    assert all(b.max_seconds is None for b in BUDGETS.values())
    b = resolve_budget("quick", overrides={"max_seconds": 45})
    assert b.name == "quick" and b.max_seconds == 45  # a cap, not work: the budget keeps its name
    with pytest.raises(DgmbenchError, match="budgets are work"):
        resolve_budget("quick", {"quick": {"epochs": 10, "max_seconds": 240}})


def test_every_builtin_protocol_and_model_budget_is_work():
    from dgmbench.plugins import load_registry

    reg = load_registry()
    for protocol in reg.items["protocols"].values():
        for spec in reg.items["models"].values():
            for name in BUDGETS:
                resolve_budget(name, protocol.budgets, spec.budgets)  # raises on a max_seconds


def test_unknown_budget():
    with pytest.raises(UnknownName, match="did you mean smoke"):
        resolve_budget("smok")
