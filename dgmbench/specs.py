"""The spec records that plugins return from the registration hooks.

They are plain dataclasses with no torch import, so that ``dgmbench plugins`` and
``dgmbench list`` answer without loading any model code. Anything heavy is named by a
``"module:attribute"`` string (or given as a callable) and imported only when it is used.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

#: A callable, or a "package.module:attribute" string naming one (imported lazily).
Factory = Union[str, Callable[..., Any]]

#: What a model can do. A model declares a subset; metrics state which they need.
CAPABILITIES = {
    "log_prob": "exact log-likelihood log p(x) per example",
    "elbo": "a variational lower bound on log p(x) per example",
    "iw_bound": "log importance weights log p(x, z_k) - log q(z_k | x), shape (k, batch)",
    "sample": "draws new examples in data space",
    "sample_conditional": "draws one new example per given label (class-conditional models, InfoGAN's codes)",
    "encode": "posterior means E_q[z | x], one tensor per stochastic layer",
    "classify": "class logits",
    "invert": "features(x) and its exact inverse invert(features) (invertible networks such as i-RevNet)",
}

#: How a model's densities relate to the data (see dgmbench.model.Model.likelihood).
LIKELIHOODS = ("continuous", "discrete", "none")


class SpecError(ValueError):
    """A plugin returned a spec that cannot be used."""


def resolve(factory: Factory) -> Callable[..., Any]:
    """Import a ``"module:attr"`` factory string, or return a callable unchanged."""
    if callable(factory):
        return factory
    module, _, attr = str(factory).partition(":")
    if not module or not attr:
        raise SpecError(f"factory {factory!r} is not of the form 'module:attribute'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Budget:
    """How much training a run gets, in work: ``epochs`` passes over the training split of
    ``batch_size`` examples each, capped at ``max_steps`` optimizer steps when set. The same budget
    is the same work on any machine. ``max_seconds`` is only a safety cap from the command line
    (``--max-seconds``): a run it stops before the planned steps is stored ``truncated``.
    ``log_every``: training logs are read (and checked for NaN) every that many steps;
    ``eval_every``: the held-out curve is measured every that many steps (None: about 10 points
    per run) and always at the end."""

    name: str
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    max_steps: int | None = None
    max_seconds: float | None = None
    log_every: int = 50
    eval_every: int | None = None
    max_train_examples: int | None = None
    max_test_examples: int | None = None
    #: options handed to metrics, e.g. {"nll_k": 5000, "fid_samples": 10000}
    metric_options: Mapping[str, Any] = field(default_factory=dict)
    #: words for the leaderboard caption, not work: e.g. the fraction of the paper's schedule
    note: str = ""
    #: fast paths of the training loop this budget turns on (names in dgmbench.plan.FAST_PATHS;
    #: none by default: each is turned on per family once measured on a device)
    fast: tuple[str, ...] | str = ()
    #: samples drawn for the run's samples.png (None: 64; --grid-samples overrides). Not work: an
    #: autoregressive model draws a sample in one network pass per pixel and channel, which a smoke
    #: budget on CIFAR-10 cannot afford
    grid_samples: int | None = None

    def replace(self, **changes: Any) -> "Budget":
        return dataclasses.replace(self, **changes)


@dataclass
class DatasetSpec:
    """A named data source.

    ``load(split, root, download, **options)`` returns a :class:`dgmbench.data.DataSplit`
    (``options`` lets one loader serve several datasets). A loader that also accepts ``limit`` is
    told how many examples the run keeps (the first ``limit``; None: all), so that a dataset built
    in memory (Stacked MNIST) need not build the rest; it must return the same first ``limit``
    examples as without it.
    ``shape`` is one example's shape, (C, H, W) for images or (D,) for vectors.
    ``levels`` is the number of discrete values a pixel takes (256 for 8-bit images, 2 for
    binarized data, 17 for scikit-learn digits); ``None`` for real-valued data (toy2d).
    Pixels are delivered as floats ``k / (levels - 1)`` in [0, 1].
    ``files`` declares, per split, the files or folders ``load`` reads under the data root (paths
    relative to it; a tuple: any one of them, for a partial copy), so that a missing one is
    reported before a run imports torch (:meth:`missing_file`).
    """

    name: str
    load: Factory
    shape: tuple[int, ...]
    levels: int | None = 256
    num_classes: int | None = None
    factors: Sequence[tuple[str, int]] | None = None
    splits: Sequence[str] = ("train", "test")
    description: str = ""
    needs_data_root: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = ""
    files: Mapping[str, Sequence[str | tuple[str, ...]]] = field(default_factory=dict)

    def missing_file(self, root, splits: Sequence[str] | None = None) -> str | None:
        """The first declared file of ``splits`` (default: all) not under ``root``, relative to it
        (a tuple: its first, naming the others), or ``None`` when all are there."""
        from pathlib import Path

        for split in self.files if splits is None else splits:
            for entry in self.files.get(split, ()):
                options = (entry,) if isinstance(entry, str) else tuple(entry)
                if not any((Path(root) / name).exists() for name in options):
                    rest = [Path(n).name if Path(n).parent == Path(options[0]).parent else n for n in options[1:]]
                    others = f" (or {', '.join(rest)} beside it)" if rest else ""
                    return f"{options[0]}{others}"
        return None

    @property
    def dims(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass(frozen=True)
class ConfigKey:
    """A declared config key with the values it allows, for :attr:`ModelSpec.config`:
    ``ConfigKey(int, min=1)``, ``ConfigKey(float, min=0.0)``, ``ConfigKey(float, above=0.0)``,
    ``ConfigKey(str, choices=("adam", "rmsprop"))``. ``type`` is as in a plain declaration (a
    type or a tuple of types); ``min`` and ``max`` are inclusive bounds, ``above`` and ``below``
    exclusive ones, ``choices`` the only values allowed. A plain type (``{"n_critic": int}``) is a
    key with no bounds."""

    type: Any
    min: float | None = None
    max: float | None = None
    above: float | None = None
    below: float | None = None
    choices: Sequence[Any] | None = None
    help: str = ""

    def check(self, value) -> str:
        """'' when ``value`` is allowed, else what is allowed ("at least 1", "one of adam, rmsprop")."""
        if self.choices is not None and value not in self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and self.min is not None and value < self.min:
            return f"at least {self.min}"
        if number and self.max is not None and value > self.max:
            return f"at most {self.max}"
        if number and self.above is not None and value <= self.above:
            return f"greater than {self.above}"
        if number and self.below is not None and value >= self.below:
            return f"less than {self.below}"
        return ""

    def describe(self) -> str:
        """The allowed values in a few words, for listings ("int >= 1", "str: adam | rmsprop")."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        out = " or ".join(getattr(t, "__name__", str(t)) for t in types)
        if self.choices is not None:
            return f"{out}: {' | '.join(map(str, self.choices))}"
        bounds = [f">= {self.min}" if self.min is not None else "", f"> {self.above}" if self.above is not None
                  else "", f"<= {self.max}" if self.max is not None else "",
                  f"< {self.below}" if self.below is not None else ""]
        return " ".join([out, *[b for b in bounds if b]])


@dataclass
class ModelSpec:
    """A model a plugin provides.

    ``build(dataset_spec, config)`` returns a :class:`dgmbench.model.Model`.
    ``capabilities`` must match what the built model implements (the harness checks).
    ``defaults`` are the config values a run starts from; a protocol or ``--config`` overrides.
    ``budgets`` optionally overrides the harness budgets for this model, by budget name
    (for example a smaller learning rate), as a mapping of Budget field -> value.
    ``config`` declares the config keys the model reads and their types (``int``, ``float``,
    ``bool``, ``str``, ``list``, or a tuple of them; ``{}``: no keys), or a :class:`ConfigKey`
    with its range or choices: ``--config`` may set only these, to allowed values. A spec that
    declares nothing (``None``) accepts the keys of ``defaults`` (types from their values); with
    no defaults either, keys pass unchecked, with a warning.
    ``metrics`` are what a run of this model computes when neither ``--metric`` nor a protocol
    names any, in place of the harness's defaults (``nll``, ``accuracy``): metric names, or a
    ``"module:function"`` of the run's DatasetSpec returning names (a choice per dataset).
    """

    name: str
    build: Factory
    capabilities: Sequence[str]
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    budgets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper: str = ""
    plugin: str = ""
    config: Mapping[str, Any] | None = None
    metrics: Sequence[str] | str = ()

    def config_types(self) -> dict:
        """Declared key -> type(s); without declarations, the types of ``defaults``' values."""
        if self.config is not None:
            return {k: v.type if isinstance(v, ConfigKey) else v for k, v in self.config.items()}
        return {k: object if v is None else type(v) for k, v in self.defaults.items()}

    def check_config(self, config: Mapping[str, Any], where: str = "--config") -> None:
        """Refuse (ConfigError, one line) a key the model does not read or a value of the wrong
        type: an int where a float is declared is fine, a bool never counts as a number, floats
        must be finite."""
        import math
        import sys

        from .errors import ConfigError, closest

        types = self.config_types()
        if self.config is None and not types:
            if config:
                print(f"warning: model {self.name!r} declares no config keys; {', '.join(config)} passed unchecked",
                      file=sys.stderr)
            return
        for key, value in config.items():
            if key not in types:
                keys = f"keys: {', '.join(sorted(types))}" if types else "it takes no config keys"
                raise ConfigError(f"model {self.name!r} has no config key {key!r} ({where}){closest(key, types)} "
                                  f"({keys})")
            want = types[key] if isinstance(types[key], tuple) else (types[key],)
            if float in want:
                want = (*want, int)
            if list in want:
                want = (*want, tuple)
            ok = any(t is object or (isinstance(value, t) and not (isinstance(value, bool) and t in (int, float)))
                     for t in want)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"model {self.name!r}: config {key}={value!r} ({where}) must be a finite number")
            if not ok:
                names = " or ".join(dict.fromkeys(getattr(t, "__name__", str(t)) for t in want
                                                  if not (t is int and float in want) and t is not tuple))
                raise ConfigError(f"model {self.name!r}: config {key}={value!r} ({where}) must be {names}")
            declared = (self.config or {}).get(key)
            allowed = declared.check(value) if isinstance(declared, ConfigKey) else ""
            if allowed:
                raise ConfigError(f"model {self.name!r}: config {key}={value!r} ({where}) must be {allowed}")


@dataclass
class MetricSpec:
    """A function of a trained model and a dataset.

    ``compute(ctx)`` receives a :class:`dgmbench.metrics.MetricContext` and returns a mapping
    of value name -> float (one metric may report several values, e.g. ``nll`` reports
    ``nll`` in nats and ``bpd``). ``requires`` lists alternative capability sets: the model
    must have every capability of at least one of them.
    """

    name: str
    compute: Factory
    requires: Sequence[Sequence[str]] = ((),)
    description: str = ""
    lower_is_better: bool = True
    plugin: str = ""
    #: computed through the run's feature network (option ``feature_net``): its values are shown
    #: as ``fid [inception]``, and the network is checked to be usable before any training
    feature_net: bool = False

    def supported_by(self, capabilities: Sequence[str]) -> bool:
        have = set(capabilities)
        return any(set(alt) <= have for alt in self.requires)


@dataclass
class FeatureNetworkSpec:
    """A backbone for sample metrics (FID, IS, KID, precision/recall).

    ``build(dataset_spec, ctx)`` returns a callable mapping images in [0, 1] to
    ``(features, logits_or_None)``. ``key`` enters the reference-statistics cache key and the
    leaderboard column name, so two networks never share a column. ``check`` (optional) is called
    with no arguments before a run trains and raises a :class:`dgmbench.errors.DgmbenchError`
    when the network cannot be built here (weights missing offline), so that a run never trains
    for metrics it cannot compute.
    """

    name: str
    build: Factory
    description: str = ""
    plugin: str = ""
    check: Factory | None = None


@dataclass
class Cell:
    """One cell of a protocol's table: a model configuration on a dataset.

    ``labels`` are the columns that join this cell to the reference table, e.g.
    ``{"model": "Real NVP"}`` or ``{"dataset": "MNIST", "k": 5, "model": "IWAE"}``.
    """

    key: str
    model: str
    dataset: str
    config: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ProtocolSpec:
    """A standardized, versioned recipe that fills one leaderboard.

    ``metrics`` are run on every cell. ``columns`` maps a measured value name to the reference
    column it stands beside (``{"bpd": "bits_per_dim"}``); ``values`` names further measured
    values the leaderboard shows with no reference column. ``reference`` is a CSV path or a file
    name in ``dgmbench/references/``. ``budgets`` overrides the harness budgets by name.
    ``resources`` is what one run needs on a worker of ``reproduce --executor ray|slurm``
    (``{"num_cpus": 4, "num_gpus": 1}``; the command line's ``--num-cpus`` / ``--num-gpus`` win).
    """

    name: str
    version: str
    cells: Sequence[Cell]
    metrics: Sequence[str]
    description: str = ""
    reference: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Sequence[str] = ()
    #: a function of the leaderboard table returning sentences on the paper's claims (dgmbench.claims)
    claims: Factory | None = None
    seeds: Sequence[int] = (0,)
    budgets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    resources: Mapping[str, float] = field(default_factory=dict)
    caption: str = ""
    plugin: str = ""

    def cell(self, key: str) -> Cell:
        for c in self.cells:
            if c.key == key:
                return c
        raise KeyError(key)


@dataclass
class RunRecord:
    """One (model, dataset, protocol, budget, seed, config): everything needed to run it again,
    serializable to JSON so that it can be shipped to another process or machine unchanged."""

    model: str
    dataset: str
    protocol: str = "default"
    budget: str = "quick"
    seed: int = 0
    config: dict = field(default_factory=dict)
    cell: str | None = None
    metrics: list | None = None
    device: str = "auto"
    data_root: str | None = None
    download: bool = False
    #: budget refinements (epochs, max_seconds, lr...); they rename the budget, e.g. "quick[max_seconds=60]"
    overrides: dict = field(default_factory=dict)
    #: metric options (feature_net, nll_k, sample_metric_n...)
    options: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunRecord":
        return cls(**json.loads(text))

    def key(self) -> str:
        """A short stable name for the output folder (same record -> same folder). Where it runs and
        the ``--max-seconds`` safety cap are not part of it, so a truncated run's re-run (without
        the cap, or a larger one) finds its checkpoint and resumes."""
        import hashlib

        ident = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("device", "data_root", "download")}
        ident["overrides"] = {k: v for k, v in self.overrides.items() if k != "max_seconds"}
        digest = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]
        safe = lambda s: "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(s))
        return f"{safe(self.model)}-{safe(self.dataset)}-{self.budget}-s{self.seed}-{digest}"
