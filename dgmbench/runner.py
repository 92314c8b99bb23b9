"""Execute one :class:`~dgmbench.specs.RunRecord`: build, train, evaluate, store."""
from __future__ import annotations

import inspect
import json
import os
import platform
import resource
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import __version__
from .budgets import resolve_budget
from .errors import DgmbenchError, PluginError, StoreError, Terminated, UnsupportedMetric
from .plugins import Registry, load_registry
from .specs import Budget, DatasetSpec, ModelSpec, ProtocolSpec, RunRecord, resolve
from .store import Store

DEFAULT_METRICS = ("nll", "accuracy")  # each where the model supports it
LIBRARIES = ("torch", "torchvision", "numpy", "pluggy", "pandas", "scikit-learn", "clean-fid")


def default_results_path() -> Path:
    return Path(os.environ.get("DGMBENCH_RESULTS", "dgmbench-results/results.sqlite"))


@dataclass
class RunOutcome:
    run_id: str
    record: RunRecord
    status: str
    metrics: dict = field(default_factory=dict)
    out_dir: Path | None = None
    error: str = ""
    wall_time_s: float = 0.0
    train_images_per_s: float | None = None
    budget: str = ""  # the resolved budget's name (``quick[max_steps=500]`` after a refinement)
    stopped: str = ""  # "stopped by --max-seconds 45 after 736 of 920 steps" for a truncated run


def code_version() -> str:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}" if sha else __version__


def library_versions() -> dict:
    out = {"python": platform.python_version(), "dgmbench": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def protocol_for(reg: Registry, record: RunRecord) -> ProtocolSpec | None:
    return None if record.protocol in ("default", "", None) else reg.get("protocols", record.protocol)


def model_config(spec: ModelSpec, protocol: ProtocolSpec | None, record: RunRecord) -> dict:
    cell = protocol.cell(record.cell).config if protocol and record.cell else {}
    return {**spec.defaults, **cell, **record.config}


def check_metrics(reg: Registry, names, spec: ModelSpec) -> list:
    out = []
    for name in names:
        metric = reg.get("metrics", name)
        if not metric.supported_by(spec.capabilities):
            needs = " or ".join("+".join(alt) or "nothing" for alt in metric.requires)
            raise UnsupportedMetric(f"metric {name!r} needs {needs}; model {spec.name!r} has "
                                    f"{', '.join(sorted(spec.capabilities)) or 'no capabilities'}")
        out.append(metric)
    return out


def metrics_for(reg: Registry, record: RunRecord, spec: ModelSpec, protocol: ProtocolSpec | None) -> list:
    if record.metrics:
        return check_metrics(reg, record.metrics, spec)
    if protocol is not None:
        return check_metrics(reg, protocol.metrics, spec)
    return [reg.get("metrics", m) for m in DEFAULT_METRICS
            if m in reg.items["metrics"] and reg.items["metrics"][m].supported_by(spec.capabilities)]


@dataclass
class Plan:
    """What a run record resolves to, before any data or model is touched."""

    spec: ModelSpec
    dataset: DatasetSpec
    protocol: ProtocolSpec | None
    metrics: list
    budget: Budget
    config: dict


def plan(reg: Registry, record: RunRecord) -> Plan:
    """Resolve names (unknown ones fail here, with suggestions), metrics, budget and config."""
    spec = reg.model_for(record.model)
    record.model = spec.name
    ds = reg.dataset(record.dataset)
    protocol = protocol_for(reg, record)
    metrics = metrics_for(reg, record, spec, protocol)
    budget = resolve_budget(record.budget, protocol.budgets if protocol else None, spec.budgets,
                            overrides=record.overrides)
    spec.check_config(record.config)  # unknown keys or wrong types: one line, before anything is stored
    if protocol and record.cell and spec.config is not None:
        spec.check_config(protocol.cell(record.cell).config, f"protocol {protocol.name} cell {record.cell}")
    return Plan(spec, ds, protocol, metrics, budget, model_config(spec, protocol, record))


def load_split(ds: DatasetSpec, split: str, record: RunRecord, limit: int | None):
    """Load a split; warnings about partial copies become the split's note."""
    load = resolve(ds.load)
    options = dict(ds.options)
    if limit is not None and "limit" in inspect.signature(load).parameters:
        options["limit"] = limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load(split, record.data_root, record.download, **options)
    for w in caught:
        print(f"warning: {w.message}")
        if not data.note:
            data.note = str(w.message)
    return data.subset(limit)


def build_model(spec: ModelSpec, ds: DatasetSpec, config: dict):
    from .model import Model

    try:
        model = resolve(spec.build)(ds, config)
    except DgmbenchError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # a model that does not fit the data or the config
        raise DgmbenchError(f"model {spec.name!r} cannot be built for dataset {ds.name!r} with config {config}: "
                            f"{exc}") from None
    except Exception as exc:
        raise PluginError(f"plugin {spec.plugin!r}: cannot build model {spec.name!r}: {type(exc).__name__}: {exc}")
    if not isinstance(model, Model):
        raise PluginError(f"plugin {spec.plugin!r}: model {spec.name!r} built a {type(model).__name__}, "
                          "not a dgmbench.model.Model")
    have, declared = model.capabilities(), set(spec.capabilities)
    if have != declared:
        raise PluginError(f"plugin {spec.plugin!r}: model {spec.name!r} declares {sorted(declared)} but "
                          f"implements {sorted(have)}")
    return model


def evaluate(reg: Registry, model, metrics, ds: DatasetSpec, test, device, budget: Budget, seed: int,
             out_dir: Path | None, load_train, store: Store, run_id: str, options: dict | None = None) -> dict:
    """Run each metric, store its values as soon as it is done, return them all. A metric that
    fails with a :class:`DgmbenchError` (offline weights, non-finite samples...) does not stop the
    others; at the end :class:`MetricsFailed` carries both the errors and the values measured."""
    from .metrics import MetricContext

    ctx = MetricContext(model=model, dataset=ds, test=test, device=device,
                        options={**budget.metric_options, **(options or {})},
                        batch_size=max(budget.batch_size, 128), seed=seed, out_dir=out_dir, registry=reg,
                        load_train=load_train)
    results, errors = {}, []
    for metric in metrics:
        try:
            values = dict(resolve(metric.compute)(ctx))
        except DgmbenchError as exc:
            errors.append(f"metric {metric.name}: {exc}")
            print(f"warning: metric {metric.name} failed: {exc}")
            continue
        feature_net = values.pop("feature_net", None) if isinstance(values.get("feature_net"), str) else None
        store.add_metrics(run_id, metric.name, values, feature_net)
        results.update(values)
    if errors:
        raise MetricsFailed(results, errors)
    return results


class MetricsFailed(DgmbenchError):
    """Some metrics failed; ``values`` holds (and the store keeps) what the others measured."""

    exit_code = 1

    def __init__(self, values: dict, errors: list):
        self.values, self.errors = values, errors
        super().__init__("; ".join(errors))


def held_out_curve(reg: Registry, model, spec: ModelSpec, ds: DatasetSpec, test, device, budget: Budget, seed: int,
                   options: dict | None = None):
    """``(evaluate, unit)`` for the training curve, or ``(None, "")`` for a model without a likelihood.

    ``evaluate()`` runs the ``nll`` metric itself -- the same estimator, unit and D log L term as
    the final number -- on the first ``curve_n`` test examples (metric option, default 1,000) with
    k = min(nll_k, ``curve_k``) importance samples (default 100) for latent-variable models, and
    returns ``{"test/nll": nats, "test/bpd": bits/dim}``. ``unit`` is the one the run reports:
    bits/dim for a continuous density on discrete pixels, nats otherwise."""
    from .metrics import MetricContext

    metric = reg.items["metrics"].get("nll")
    if metric is None or not metric.supported_by(spec.capabilities):
        return None, ""
    opts = {**budget.metric_options, **(options or {})}
    opts["nll_k"] = min(int(opts.get("nll_k", 5000)), int(opts.get("curve_k", 100)))
    subset, compute = test.subset(int(opts.get("curve_n", 1000))), resolve(metric.compute)

    def evaluate() -> dict:
        ctx = MetricContext(model=model, dataset=ds, test=subset, device=device, options=opts,
                            batch_size=max(budget.batch_size, 128), seed=seed, registry=reg)
        values = compute(ctx)
        return {"test/nll": float(values["nll"]), "test/bpd": float(values["bpd"])}

    continuous = getattr(model, "likelihood", "none") == "continuous" and ds.levels is not None
    return evaluate, "bits/dim" if continuous else "nats"


def peak_memory_bytes(device) -> int:
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def device_label(device) -> str:
    import torch

    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def start_run(store: Store, reg: Registry, record: RunRecord, spec: ModelSpec, ds: DatasetSpec,
              protocol: ProtocolSpec | None, budget: Budget, device, config: dict, n_train: int, n_test: int,
              note: str | None, out_dir: Path | None = None) -> str:
    """The run's row, written before any work so that a crash still leaves a trace."""
    plugin = reg.plugins.get(spec.plugin)
    return store.start_run(
        protocol=record.protocol or "default", protocol_version=protocol.version if protocol else "1",
        cell=record.cell, model=spec.name, plugin=spec.plugin, plugin_version=plugin.version if plugin else "",
        dataset=ds.name, budget=budget.name, seed=record.seed, config=config, record=record.to_json(),
        code_version=code_version(), libraries=library_versions(), device=device_label(device),
        n_train=n_train, n_test=n_test, data_note=note or None, out_dir=str(out_dir) if out_dir else None)


def settle(outcome: RunOutcome, exc: BaseException) -> None:
    """The status a run ends with when ``exc`` stops it."""
    if isinstance(exc, MetricsFailed):
        outcome.metrics, outcome.status, outcome.error = exc.values, "partial", str(exc)
    elif isinstance(exc, Terminated):
        outcome.status, outcome.error = "interrupted", "terminated (SIGTERM); continue with --resume"
    elif isinstance(exc, KeyboardInterrupt):
        outcome.status, outcome.error = "interrupted", "interrupted by the user; continue with --resume"
    elif isinstance(exc, DgmbenchError):
        outcome.status, outcome.error = "failed", str(exc)
    else:
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"


def execute(record: RunRecord, results: Path | None = None, out_root: Path | None = None, resume: bool = False,
            progress: bool = True, reg: Registry | None = None) -> RunOutcome:
    """Train and evaluate one run and store it."""
    import torch

    from . import distributed
    from .artifacts import save_curves, save_samples
    from .training import TrainState, fit, seed_everything, select_device

    reg = reg or load_registry()
    p = plan(reg, record)
    spec, ds, protocol, metrics, budget, config = p.spec, p.dataset, p.protocol, p.metrics, p.budget, p.config
    device = select_device(record.device)
    results = Path(results or default_results_path())
    out_dir = Path(out_root or results.parent / "runs") / record.key()
    out_dir.mkdir(parents=True, exist_ok=True)

    seed_everything(record.seed)
    train = load_split(ds, "train", record, budget.max_train_examples)
    test = load_split(ds, "test", record, budget.max_test_examples)
    model = build_model(spec, ds, config)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    store = Store(results)
    run_id = start_run(store, reg, record, spec, ds, protocol, budget, device, config, len(train), len(test),
                       "; ".join(dict.fromkeys(n for n in (train.note, test.note) if n)), out_dir)
    main = distributed.is_main()  # under torchrun only rank 0 writes files and calls the event hooks
    if main:
        (out_dir / "record.json").write_text(json.dumps(json.loads(record.to_json()), indent=2))
    outcome = RunOutcome(run_id, record, "running", out_dir=out_dir, budget=budget.name)
    start = time.perf_counter()
    curve, unit = held_out_curve(reg, model, spec, ds, test, device, budget, record.seed, record.options)

    def on_epoch_end(epoch, logs):
        return main and any(reg.pm.hook.dgmbench_epoch_end(record=record, model=model, epoch=epoch, logs=logs))

    def on_log(step, values):
        if main:
            reg.pm.hook.dgmbench_train_log(record=record, model=model, step=step, logs=values)

    state, train_peak = TrainState(), 0
    try:
        if main:
            reg.pm.hook.dgmbench_run_start(record=record, model=model, out_dir=out_dir)
        fit(model, train, ds, budget, device, checkpoint=out_dir / "checkpoint.pt", resume=resume,
            record_json=record.to_json(), on_epoch_end=on_epoch_end, progress=progress, seed=record.seed,
            state=state, evaluate=curve, on_log=on_log,
            shown=("test/bpd" if unit == "bits/dim" else "test/nll", f"test {unit}"))
        train_peak = peak_memory_bytes(device)  # metrics may reset the device's peak counter
        outcome.stopped = state.stop_message()
        if main:
            save_curves(state.history, out_dir / "curves.png", unit)
            save_samples(model, out_dir / "samples.png", n=int(record.options.get("grid_samples", 64)),
                         data=test.x if test.x.ndim == 2 else None)
        outcome.metrics = evaluate(reg, model, metrics, ds, test, device, budget, record.seed,
                                   out_dir if main else None, lambda: train, store, run_id, record.options)
        outcome.status = "truncated" if state.stopped else "ok"
    except BaseException as exc:
        settle(outcome, exc)
        raise
    finally:
        outcome.wall_time_s = time.perf_counter() - start
        outcome.train_images_per_s = state.images / state.seconds if state.seconds else None
        try:
            store.update_run(run_id, status=outcome.status, error=outcome.error or None, finished=time.time(),
                             wall_time_s=outcome.wall_time_s,
                             peak_memory_bytes=max(train_peak, peak_memory_bytes(device)),
                             train_time_s=state.seconds, epochs=state.epoch, steps=state.step,
                             train_images_per_s=outcome.train_images_per_s, planned_steps=state.planned_steps,
                             planned_epochs=state.planned_epochs, stopped=state.stop_message() or None,
                             n_train=min(len(train), state.images))
            store.add_history(run_id, state.history)
        except StoreError as exc:  # e.g. the disk filled: the first cause (in flight) is what the user sees
            print(f"warning: {exc}; the run's row is marked abandoned when the store is next opened")
            if outcome.status == "ok":
                raise
        try:
            if main:
                reg.pm.hook.dgmbench_run_end(record=record, results=outcome.metrics, status=outcome.status)
        except Exception as exc:  # an observer must not change the run's outcome
            print(f"warning: a dgmbench_run_end hook failed: {type(exc).__name__}: {exc}")
    return outcome


def evaluate_checkpoint(checkpoint: Path, metric_names=None, results: Path | None = None, device: str = "auto",
                        model: str | None = None, dataset: str | None = None, data_root: str | None = None,
                        budget: str | None = None, reg: Registry | None = None, options: dict | None = None,
                        max_test_examples: int | None = None
                        ) -> RunOutcome:
    """Score a saved model with no training and store the result like a run.

    A dgmbench checkpoint carries its run record; any other file holding a state dict (or
    ``{"model": state_dict}``) needs ``model`` (a plugin that builds the architecture) and ``dataset``."""
    import torch

    from .training import load_checkpoint, select_device

    reg = reg or load_registry()
    ck = load_checkpoint(Path(checkpoint))
    if isinstance(ck, dict) and "record" in ck and isinstance(ck.get("record"), str):
        record = RunRecord.from_json(ck["record"])
        state_dict = ck["model"]
    else:
        if not model or not dataset:
            raise DgmbenchError(f"{checkpoint} is not a dgmbench checkpoint: pass --plugin and --dataset "
                                "to say which model and data it belongs to")
        record = RunRecord(model=model, dataset=dataset, budget=budget or "quick")
        state_dict = ck.get("model", ck) if isinstance(ck, dict) else ck
    record.model = model or record.model
    record.dataset = dataset or record.dataset
    record.data_root = data_root or record.data_root
    record.device = device
    if budget:  # a new budget replaces the run's (and its command-line refinements)
        record.budget, record.overrides = budget, {}
    if max_test_examples:  # a subset of the test set (renames the budget, as on the run command line)
        record.overrides = {**record.overrides, "max_test_examples": max_test_examples}
    record.metrics = list(metric_names) if metric_names else record.metrics
    record.options = {**record.options, **(options or {})}
    p = plan(reg, record)
    spec, ds, protocol, metrics, bud = p.spec, p.dataset, p.protocol, p.metrics, p.budget
    if not metrics:
        raise UnsupportedMetric(f"model {spec.name!r} supports none of the default metrics; name one with --metric")
    dev = select_device(device)
    net = build_model(spec, ds, p.config)
    try:
        net.load_state_dict(state_dict)
    except (RuntimeError, TypeError) as exc:
        raise DgmbenchError(f"{checkpoint} does not fit model {spec.name!r}: {str(exc).splitlines()[0]}") from None
    net.to(dev).eval()
    torch.manual_seed(record.seed)
    test = load_split(ds, "test", record, bud.max_test_examples)
    store = Store(Path(results or default_results_path()))
    run_id = start_run(store, reg, record, spec, ds, protocol, bud, dev, p.config, 0,
                       len(test), f"eval of {checkpoint}" + (f"; {test.note}" if test.note else ""))
    outcome = RunOutcome(run_id, record, "running", budget=bud.name)
    start = time.perf_counter()
    try:
        outcome.metrics = evaluate(reg, net, metrics, ds, test, dev, bud, record.seed, None,
                                   lambda: load_split(ds, "train", record, bud.max_train_examples), store, run_id,
                                   record.options)
        outcome.status = "ok"
    except BaseException as exc:
        settle(outcome, exc)
        raise
    finally:
        outcome.wall_time_s = time.perf_counter() - start
        store.update_run(run_id, status=outcome.status, error=outcome.error or None, finished=time.time(),
                         wall_time_s=outcome.wall_time_s, peak_memory_bytes=peak_memory_bytes(dev))
    return outcome
