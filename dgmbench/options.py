"""Range checks of the numbers a user passes (budget flags, seeds, metric options): a value out
of range is one :class:`OptionError` line naming the option and the value, before anything runs."""
from __future__ import annotations

import json
import math

from .errors import DgmbenchError


class OptionError(DgmbenchError):
    """A numeric option out of range, not finite, or not a number."""


#: the budget fields the command line can override (``--max-steps`` ...) and their types
BUDGET_FLAGS = {"epochs": int, "max_seconds": float, "max_steps": int, "lr": float, "batch_size": int,
                "max_train_examples": int, "max_test_examples": int, "log_every": int, "eval_every": int,
                "fast": str}

#: budget fields and metric options -> (smallest allowed value, must be an integer)
LIMITS = {
    "epochs": (1, True), "max_steps": (1, True), "batch_size": (1, True), "lr": (0.0, False),
    "max_seconds": (0.0, False), "max_train_examples": (1, True), "max_test_examples": (1, True),
    "log_every": (1, True), "eval_every": (1, True), "seed": (0, True), "grid_samples": (0, True),
    "nll_k": (1, True), "nll_batch": (1, True), "nll_chunk": (1, True), "nll_max_bytes": (1, True),
    "sample_metric_n": (2, True), "sample_batch_size": (1, True), "kid_subsets": (1, True),
    "kid_subset_size": (2, True), "is_splits": (1, True), "pr_k": (1, True), "ref_feature_cap": (2, True),
    "domain_net_steps": (1, True), "surgery_n": (2, True), "surgery_samples": (1, True),
    "au_threshold": (0.0, False),
}
#: options whose smallest value is excluded (a learning rate or a time cap of 0 means nothing)
STRICT = {"lr", "max_seconds"}


def check(name: str, value, flag: str | None = None) -> None:
    """Refuse a non-finite number anywhere, and an out-of-range one where :data:`LIMITS` knows
    the option; other values (strings, options this table does not know) pass."""
    shown = flag or name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if name in LIMITS and LIMITS[name][1] and value is not None:
            raise OptionError(f"{shown} must be a whole number, not {value!r}")
        return
    if not math.isfinite(value):
        raise OptionError(f"{shown} must be a finite number, not {value}")
    if name not in LIMITS:
        return
    low, integer = LIMITS[name]
    if integer and value != int(value):
        raise OptionError(f"{shown} must be a whole number, not {value}")
    if value < low or (name in STRICT and value <= low):
        bound = f"greater than {low}" if name in STRICT else f"at least {low}"
        raise OptionError(f"{shown} must be {bound}, not {value}")


def check_all(values: dict, prefix: str = "--") -> None:
    """Every entry of ``values`` (flag names with ``_``), shown as ``--flag-name`` or ``KEY``."""
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            for item in value:
                check(name, item, f"{prefix}{name.replace('_', '-')}" if prefix else name)
        else:
            check(name, value, f"{prefix}{name.replace('_', '-')}" if prefix else name)


def key_values(items) -> dict:
    """``KEY=VALUE`` strings -> dict, with VALUE parsed as JSON when it parses (numbers, bools)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise DgmbenchError(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
