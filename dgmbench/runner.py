"""Execute one :class:`~dgmbench.specs.RunRecord` (build, train, evaluate, store) or score a saved
model: the two entry points of the run path. The steps themselves are :class:`dgmbench.run.Run`'s
methods; what a record resolves to is :mod:`dgmbench.plan`."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .errors import DgmbenchError
from .plan import (  # noqa: F401  (names callers import from here)
    DEFAULT_METRICS,
    Plan,
    build_model,
    check_metrics,
    load_split,
    metrics_for,
    model_config,
    plan,
    protocol_for,
)
from .plugins import Registry, load_registry
from .run import (  # noqa: F401
    MetricsFailed,
    Run,
    RunOutcome,
    code_version,
    device_label,
    library_versions,
    peak_memory_bytes,
    settle,
)
from .specs import RunRecord


def default_results_path() -> Path:
    from .paths import results_file

    return results_file()


def execute(record: RunRecord, results: Path | None = None, out_root: Path | None = None, resume: bool = False,
            progress: bool = True, reg: Registry | None = None) -> RunOutcome:
    """Train and evaluate one run and store it."""
    reg = reg or load_registry()
    run = Run.planned(record, reg, Path(results or default_results_path()), out_root, resume=resume,
                      progress=progress)
    return run.execute()


def checkpoint_record(checkpoint: Path, model: str | None, dataset: str | None, budget: str | None):
    """``(record, state_dict)`` of a saved model: a dgmbench checkpoint carries its run record; any
    other file holding a state dict (or ``{"model": state_dict}``) needs ``model`` and ``dataset``."""
    from .training import load_checkpoint

    ck = load_checkpoint(Path(checkpoint))
    if isinstance(ck, dict) and "record" in ck and isinstance(ck.get("record"), str):
        return RunRecord.from_json(ck["record"]), ck["model"]
    if not model or not dataset:
        raise DgmbenchError(f"{checkpoint} is not a dgmbench checkpoint: pass --plugin and --dataset "
                            "to say which model and data it belongs to")
    return RunRecord(model=model, dataset=dataset, budget=budget or "quick"), \
        ck.get("model", ck) if isinstance(ck, dict) else ck


def evaluate_checkpoint(checkpoint: Path, metric_names=None, results: Path | None = None, device: str = "auto",
                        model: str | None = None, dataset: str | None = None, data_root: str | None = None,
                        budget: str | None = None, reg: Registry | None = None, options: dict | None = None,
                        max_test_examples: int | None = None
                        ) -> RunOutcome:
    """Score a saved model with no training and store the result like a run: the checkpoint's
    record, with what the command line says in place of its model, dataset, data root, device,
    budget (a new budget drops the run's command-line refinements), test-set size (which renames
    the budget, as on the run command line), metrics and metric options."""
    reg = reg or load_registry()
    record, state_dict = checkpoint_record(checkpoint, model, dataset, budget)
    overrides = {} if budget else record.overrides
    if max_test_examples:
        overrides = {**overrides, "max_test_examples": max_test_examples}
    record = replace(record, model=model or record.model, dataset=dataset or record.dataset,
                     data_root=data_root or record.data_root, device=device, budget=budget or record.budget,
                     overrides=overrides, metrics=list(metric_names) if metric_names else record.metrics,
                     options={**record.options, **(options or {})})
    run = Run.planned(record, reg, Path(results or default_results_path()), evaluation=True)
    return run.score(state_dict, checkpoint)
