"""Budget resolution: harness -> protocol -> model -> command line."""
import pytest

from dgmbench.budgets import BUDGETS, resolve_budget
from dgmbench.errors import UnknownName


def test_layers_refine_in_order_and_metric_options_merge():
    b = resolve_budget("quick", {"quick": {"epochs": 7, "metric_options": {"nll_k": 100}}},
                       {"quick": {"lr": 3e-4}, "full": {"lr": 1.0}})
    assert (b.name, b.epochs, b.lr) == ("quick", 7, 3e-4)
    assert b.metric_options["nll_k"] == 100
    assert b.metric_options["sample_metric_n"] == BUDGETS["quick"].metric_options["sample_metric_n"]


def test_explicit_overrides_rename_the_budget():
    b = resolve_budget("quick", overrides={"max_seconds": 60, "epochs": None})
    assert b.name == "quick[max_seconds=60]" and b.max_seconds == 60
    assert resolve_budget("smoke").name == "smoke"
    b = resolve_budget("quick", overrides={"max_seconds": 60, "metric_options": {"nll_k": 100}})
    assert b.name == "quick[max_seconds=60,nll_k=100]" and b.metric_options["nll_k"] == 100


def test_unknown_budget():
    with pytest.raises(UnknownName, match="did you mean smoke"):
        resolve_budget("smok")
