"""The harness budgets and how a protocol, a model and the command line refine them."""
from __future__ import annotations

from typing import Any, Mapping

from .errors import DgmbenchError, UnknownName
from .specs import Budget

BUDGETS = {
    # seconds on a CPU, for tests: a handful of steps on a few hundred examples
    "smoke": Budget("smoke", epochs=1, batch_size=32, lr=1e-3, max_steps=5, max_train_examples=256,
                    max_test_examples=128, log_every=1,
                    metric_options={"nll_k": 16, "sample_metric_n": 256, "domain_net_steps": 300,
                                    "mode_samples": 1000}),  # not Stacked MNIST's 26,000: smoke tests the path
    # the default: 30 epochs, about a minute for RealNVP on digits on a 2-core CPU, minutes on one GPU
    "quick": Budget("quick", epochs=30, batch_size=64, lr=1e-3,
                    metric_options={"nll_k": 5000, "sample_metric_n": 10000, "domain_net_steps": 2000}),
    # the whole table in about 30-45 minutes on a quiet 2-core CPU, cells visibly trained (each
    # protocol sizes its own; these defaults serve an ad-hoc `dgmbench run --budget cpu`). The
    # `domain` feature classifiers train 5,000 steps: CIFAR-10's reaches test accuracy 0.726, over
    # its 0.70 bar (0.605 at 1,000 steps, 0.693 at 3,000; benchmarks/domain_accuracy.py, once per
    # dataset and cached: 7 minutes on 2 cores)
    "cpu": Budget("cpu", epochs=5, batch_size=64, lr=1e-3, max_test_examples=2000,
                  metric_options={"nll_k": 500, "sample_metric_n": 5000, "domain_net_steps": 5000}),
    # the whole table, three seeds, in one device command of at most 9 minutes on one H200 with
    # cells packed (`reproduce --jobs auto`); each protocol sizes its own and states its fraction
    # of the paper's schedule in the budget's note; feature classifiers as on the cpu budget
    "gpu": Budget("gpu", epochs=20, batch_size=128, lr=1e-3,
                  metric_options={"nll_k": 5000, "sample_metric_n": 10000, "domain_net_steps": 5000}),
    # the published hyperparameters (protocols and models refine this)
    "full": Budget("full", epochs=100, batch_size=64, lr=1e-3,
                   metric_options={"nll_k": 5000, "sample_metric_n": 50000, "domain_net_steps": 5000}),
}


#: budget fields that limit the run's time, not its work: never part of a named budget, never in its name
SAFETY_CAPS = ("max_seconds",)


def resolve_budget(name: str, *layers: Mapping[str, Mapping[str, Any]] | None,
                   overrides: Mapping[str, Any] | None = None) -> Budget:
    """The named harness budget, refined by each layer's entry for that name (protocol, then
    model), then by explicit overrides (command line). ``metric_options`` merge key by key.
    Explicit overrides of the work rename the budget (``quick[max_steps=500]``), so that results
    under a changed budget are never shown as the standard one. ``max_seconds`` is accepted only
    as an override: it is a safety cap, not work (a run it stops is stored ``truncated``)."""
    if name not in BUDGETS:
        raise UnknownName("budget", name, BUDGETS)
    budget = BUDGETS[name]
    for layer in layers:
        timed = [k for k in SAFETY_CAPS if layer and (layer.get(name) or {}).get(k) is not None]
        if timed:
            raise DgmbenchError(f"budget {name!r}: a protocol or model budget sets {timed[0]}; budgets are work "
                                "(epochs, max_steps), the time cap is only --max-seconds")
    for layer in [*(layer.get(name, {}) for layer in layers if layer), overrides or {}]:
        changes = {k: v for k, v in layer.items() if v is not None}
        if "metric_options" in changes:
            changes["metric_options"] = {**budget.metric_options, **changes["metric_options"]}
        budget = budget.replace(**changes)
    explicit = {k: v for k, v in (overrides or {}).items()
                if v is not None and k not in ("metric_options", "note") and k not in SAFETY_CAPS}
    explicit.update((overrides or {}).get("metric_options") or {})
    if explicit:
        budget = budget.replace(name=f"{name}[{','.join(f'{k}={v}' for k, v in sorted(explicit.items()))}]")
    return budget
