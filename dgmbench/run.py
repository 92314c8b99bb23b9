"""One run on its way through the core: a :class:`Run` holds what a run record resolved to (its
plan), the device, the results store, the run id and the output folder, and its methods start,
train, evaluate and finish it. :func:`dgmbench.runner.execute` (train and score) and
:func:`dgmbench.runner.evaluate_checkpoint` (score a saved model) are two orders of these steps.
docs/architecture.md draws the path."""
from __future__ import annotations

import contextlib
import errno
import json
import platform
import resource
import subprocess
import time
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from . import __version__
from .errors import DgmbenchError, StoreError, Terminated
from .plan import Plan, build_model, effective_config, load_split, plan
from .plugins import Registry
from .specs import RunRecord, resolve
from .store import Store

LIBRARIES = ("torch", "torchvision", "numpy", "pluggy", "pandas", "scikit-learn", "clean-fid")


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


class MetricsFailed(DgmbenchError):
    """Some metrics failed; ``values`` holds (and the store keeps) what the others measured."""

    exit_code = 1

    def __init__(self, values: dict, errors: list):
        self.values, self.errors = values, errors
        super().__init__("; ".join(errors))


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


def peak_memory_bytes(device) -> int:
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def device_label(device) -> str:
    import torch

    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def disk_full(exc: BaseException) -> DgmbenchError | None:
    """The one line for a write that failed because the disk is full (ENOSPC), else None."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return DgmbenchError(f"disk full{where}: no space left on the device (free some space and continue "
                             "with --resume)")
    return None


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


class Run:
    """One run: ``record`` (with the model's resolved name), its ``plan``, the ``device``, the
    results file and its :class:`~dgmbench.store.Store` (opened by :meth:`start`), the ``run_id``
    (set by :meth:`start`), the output folder ``out_dir`` (``None`` for an evaluation, which writes
    no files) and the plugin ``registry``. It also carries what :func:`dgmbench.training.fit` reads
    (``dataset``, ``budget``, ``device``, ``seed``, ``checkpoint``, ``resume``, ``record_json``).

    Under torchrun only rank 0 writes files and calls the event hooks (``main``)."""

    def __init__(self, record: RunRecord, plan: Plan, device, results: Path, out_dir: Path | None,
                 registry: Registry, resume: bool = False, progress: bool = True):
        from . import distributed
        from .training import TrainState

        self.record, self.plan, self.device, self.results = record, plan, device, Path(results)
        self.out_dir, self.registry, self.resume, self.progress = out_dir, registry, resume, progress
        self.store: Store | None = None
        self.run_id = ""
        self.main = distributed.is_main()
        self.state = TrainState()
        self.trained = False  # fit ran (the row then gets the training's columns and history)
        self.outcome = RunOutcome("", record, "running", out_dir=out_dir, budget=plan.budget.name)
        self.unit = ""  # the training curve's unit ("bits/dim" or "nats"), set by train()
        self._n_train = 0
        self._started_at = 0.0
        self._train_peak = 0
        self.config = dict(plan.config)  # what the row stores; the built model's effective config (build)

    @classmethod
    def planned(cls, record: RunRecord, registry: Registry, results: Path, out_root: Path | None = None,
                resume: bool = False, progress: bool = True, evaluation: bool = False) -> "Run":
        """Resolve ``record`` (nothing is loaded, built or stored yet). A training run's folder is
        ``out_root / record.key()`` (default: ``runs/`` beside the results file); an evaluation
        (``evaluation=True``) has none."""
        from .paths import runs_folder
        from .training import select_device

        p = plan(registry, record)
        record = replace(record, model=p.model)
        device = select_device(record.device)
        results = Path(results)
        out_dir = None if evaluation else runs_folder(results, out_root) / record.key()
        return cls(record, p, device, results, out_dir, registry, resume=resume, progress=progress)

    # what fit reads (dgmbench.training.TrainingRun)
    @property
    def dataset(self):
        return self.plan.dataset

    @property
    def budget(self):
        return self.plan.budget

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def checkpoint(self) -> Path | None:
        return self.out_dir / "checkpoint.pt" if self.out_dir is not None else None

    @property
    def record_json(self) -> str:
        return self.record.to_json()

    def load(self, split: str):
        limit = self.budget.max_train_examples if split == "train" else self.budget.max_test_examples
        return load_split(self.dataset, split, self.record, limit)

    def build(self):
        """The model, built from the plan's config; the row will store the config it runs with
        (defaults a model fills inside ``build`` included), so ``dgmbench show`` lists every value."""
        model = build_model(self.plan.spec, self.dataset, self.plan.config)
        self.config = effective_config(self.plan.config, model)
        return model

    def metric_context(self, model, test, options: dict | None = None, **fields):
        """The :class:`~dgmbench.metrics.MetricContext` of this run's metrics on ``test``."""
        from .metrics import MetricContext

        opts = {**self.budget.metric_options, **self.record.options} if options is None else options
        # the whole splits, uncapped by the budget: feature networks trained once per dataset learn from them
        fields.setdefault("load_full", lambda split: load_split(self.dataset, split, self.record, None))
        return MetricContext(model=model, dataset=self.dataset, test=test, device=self.device, options=opts,
                             batch_size=max(self.budget.batch_size, 128), seed=self.seed, registry=self.registry,
                             **fields)

    def start(self, n_train: int, n_test: int, note: str | None) -> str:
        """The run's folder and its row in the store, written before any work so that a crash
        still leaves a trace; returns the run id."""
        spec, protocol = self.plan.spec, self.plan.protocol
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.results)
        plugin = self.registry.plugins.get(spec.plugin)
        self.run_id = self.store.start_run(
            protocol=self.record.protocol or "default", protocol_version=protocol.version if protocol else "1",
            cell=self.record.cell, model=spec.name, plugin=spec.plugin,
            plugin_version=plugin.version if plugin else "", dataset=self.dataset.name, budget=self.budget.name,
            seed=self.seed, config=self.config, record=self.record.to_json(), code_version=code_version(),
            libraries=library_versions(), device=device_label(self.device), n_train=n_train, n_test=n_test,
            data_note=note or None, out_dir=str(self.out_dir) if self.out_dir else None)
        self.outcome.run_id = self.run_id
        self._started_at = time.perf_counter()
        return self.run_id

    def write_record(self) -> None:
        """The run record as ``record.json`` in the run's folder (rank 0), to re-run it from."""
        if self.main and self.out_dir is not None:
            (self.out_dir / "record.json").write_text(json.dumps(json.loads(self.record.to_json()), indent=2))

    def held_out_curve(self, model, test):
        """``(evaluate, unit)`` for the training curve, or ``(None, "")`` for a model without a likelihood.

        ``evaluate()`` runs the ``nll`` metric itself -- the same estimator, unit and D log L term
        as the final number -- on the first ``curve_n`` test examples (metric option, default
        1,000) with k = min(nll_k, ``curve_k``) importance samples (default 100) for
        latent-variable models, and returns ``{"test/nll": nats, "test/bpd": bits/dim}``. ``unit``
        is the one the run reports: bits/dim for a continuous density on discrete pixels, nats
        otherwise."""
        metric = self.registry.items["metrics"].get("nll")
        if metric is None or not metric.supported_by(self.plan.spec.capabilities):
            return None, ""
        opts = {**self.budget.metric_options, **self.record.options}
        opts["nll_k"] = min(int(opts.get("nll_k", 5000)), int(opts.get("curve_k", 100)))
        subset, compute = test.subset(int(opts.get("curve_n", 1000))), resolve(metric.compute)

        def evaluate() -> dict:
            values = compute(self.metric_context(model, subset, opts))
            return {"test/nll": float(values["nll"]), "test/bpd": float(values["bpd"])}

        continuous = getattr(model, "likelihood", "none") == "continuous" and self.dataset.levels is not None
        return evaluate, "bits/dim" if continuous else "nats"

    def train(self, model, train, test):
        """Fit ``model`` on ``train`` (held-out points on ``test``), with the plugins' event hooks."""
        from .training import Hooks, fit

        curve, unit = self.held_out_curve(model, test)
        reg, record, main = self.registry, self.record, self.main
        self.unit = unit

        def epoch_end(epoch, logs):
            return main and any(reg.pm.hook.dgmbench_epoch_end(record=record, model=model, epoch=epoch, logs=logs))

        def log(step, values):
            if main:
                reg.pm.hook.dgmbench_train_log(record=record, model=model, step=step, logs=values)

        self.trained = True
        if main:
            reg.pm.hook.dgmbench_run_start(record=record, model=model, out_dir=self.out_dir)
        fit(model, train, self, Hooks(log=log, epoch_end=epoch_end, evaluate=curve, progress=self.progress,
                                      shown=("test/bpd" if unit == "bits/dim" else "test/nll", f"test {unit}")),
            state=self.state)
        self._train_peak = peak_memory_bytes(self.device)  # metrics may reset the device's peak counter
        self.outcome.stopped = self.state.stop_message()
        return self.state

    def save_artifacts(self, model, test) -> None:
        """The training curves and a grid of samples, in the run's folder (rank 0)."""
        from .artifacts import save_curves, save_samples

        if not self.main or self.out_dir is None:
            return
        save_curves(self.state.history, self.out_dir / "curves.png", self.unit)
        default = 64 if self.budget.grid_samples is None else self.budget.grid_samples
        save_samples(model, self.out_dir / "samples.png", n=int(self.record.options.get("grid_samples", default)),
                     data=test.x if test.x.ndim == 2 else None)

    def evaluate(self, model, test, load_train) -> dict:
        """Run each metric, store its values as soon as it is done, return them all. A metric that
        fails with a :class:`DgmbenchError` (offline weights, non-finite samples...) does not stop
        the others; at the end :class:`MetricsFailed` carries both the errors and the values measured.
        A model whose weights are not finite (training diverged while its logs stayed finite) is
        not scored: every metric of it would be NaN."""
        from .training import nonfinite_weights

        bad = nonfinite_weights(model)
        if bad:
            raise MetricsFailed({}, [f"the model's weights are not finite ({', '.join(bad[:3])}"
                                     f"{'...' if len(bad) > 3 else ''}): training diverged (try a smaller --lr); "
                                     "no metric computed"])
        ctx = self.metric_context(model, test, out_dir=self.out_dir if self.main else None, load_train=load_train)
        results, errors = {}, []
        for metric in self.plan.metrics:
            try:
                values = dict(resolve(metric.compute)(ctx))
            except DgmbenchError as exc:
                errors.append(f"metric {metric.name}: {exc}")
                print(f"warning: metric {metric.name} failed: {exc}")
                continue
            feature_net = values.pop("feature_net", None) if isinstance(values.get("feature_net"), str) else None
            self.store.add_metrics(self.run_id, metric.name, values, feature_net)
            results.update(values)
        self.outcome.metrics = results
        if errors:
            raise MetricsFailed(results, errors)
        return results

    @contextlib.contextmanager
    def settling(self):
        """Around the work after :meth:`start`: the exception that stops it sets the run's status
        (and passes through), and the run is finished (stored) either way."""
        try:
            yield self
        except BaseException as exc:
            full = disk_full(exc)
            settle(self.outcome, full or exc)
            if full is not None:
                raise full from None
            raise
        finally:
            self.finish()

    def finish(self) -> RunOutcome:
        """Store how the run ended (status, times, memory; a trained run's steps and history) and
        tell the plugins (``dgmbench_run_end``, training runs on rank 0)."""
        outcome, state = self.outcome, self.state
        outcome.wall_time_s = time.perf_counter() - self._started_at
        peak = max(self._train_peak, peak_memory_bytes(self.device))
        fields = dict(status=outcome.status, error=outcome.error or None, finished=time.time(),
                      wall_time_s=outcome.wall_time_s, peak_memory_bytes=peak)
        if self.trained:
            outcome.train_images_per_s = state.images / state.seconds if state.seconds else None
            fields.update(train_time_s=state.seconds, epochs=state.epoch, steps=state.step,
                          train_images_per_s=outcome.train_images_per_s, planned_steps=state.planned_steps,
                          planned_epochs=state.planned_epochs, stopped=state.stop_message() or None,
                          n_train=min(self._n_train, state.images))
        try:
            self.store.update_run(self.run_id, **fields)
            if self.trained:
                self.store.add_history(self.run_id, state.history)
        except StoreError as exc:  # e.g. the disk filled: the first cause (in flight) is what the user sees
            print(f"warning: {exc}; the run's row is marked abandoned when the store is next opened")
            if outcome.status == "ok":
                raise
        if self.trained and self.main:
            try:
                self.registry.pm.hook.dgmbench_run_end(record=self.record, results=outcome.metrics,
                                                       status=outcome.status)
            except Exception as exc:  # an observer must not change the run's outcome
                print(f"warning: a dgmbench_run_end hook failed: {type(exc).__name__}: {exc}")
        return outcome

    def execute(self) -> RunOutcome:
        """Load the data, build the model, start, train, save the curves and samples, evaluate, finish."""
        import torch

        from .training import seed_everything

        seed_everything(self.seed)
        train, test = self.load("train"), self.load("test")
        model = self.build()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._n_train = len(train)
        self.start(len(train), len(test), "; ".join(dict.fromkeys(n for n in (train.note, test.note) if n)))
        with self.settling():
            self.trained = True  # from here the row records the training (steps 0 if it stopped at once)
            self.write_record()
            self.train(model, train, test)
            self.save_artifacts(model, test)
            self.evaluate(model, test, lambda: train)
            self.outcome.status = "truncated" if self.state.stopped else "ok"
        return self.outcome

    def score(self, state_dict, checkpoint: Path) -> RunOutcome:
        """Load ``state_dict`` (from ``checkpoint``) into the model, start, evaluate, finish."""
        import torch

        from .errors import UnsupportedMetric

        if not self.plan.metrics:
            raise UnsupportedMetric(f"model {self.plan.model!r} supports none of the default metrics; "
                                    "name one with --metric")
        net = self.build()
        try:
            net.load_state_dict(state_dict)
        except (RuntimeError, TypeError) as exc:
            raise DgmbenchError(f"{checkpoint} does not fit model {self.plan.model!r}: "
                                f"{str(exc).splitlines()[0]}") from None
        net.to(self.device).eval()
        torch.manual_seed(self.seed)
        test = self.load("test")
        self.start(0, len(test), f"eval of {checkpoint}" + (f"; {test.note}" if test.note else ""))
        with self.settling():
            self.evaluate(net, test, lambda: self.load("train"))
            self.outcome.status = "ok"
        return self.outcome
