"""What a run record resolves to before any work: the model, dataset, protocol, metrics, budget
and config it names (unknown names fail here, with suggestions), and how its data and model are
loaded and built. Nothing here trains, scores or stores."""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass

from .budgets import resolve_budget
from .errors import DgmbenchError, PluginError, UnsupportedMetric
from .plugins import Registry
from .specs import Budget, DatasetSpec, ModelSpec, ProtocolSpec, RunRecord, resolve

DEFAULT_METRICS = ("nll", "accuracy")  # each where the model supports it

#: the training loop's fast paths, switched on by a budget's ``fast`` (``--fast NAME,NAME``):
#: name -> what it does (dgmbench.training applies them; each is a no-op where it cannot apply)
FAST_PATHS = {
    "channels_last": "convolutional nets and their 4-d inputs in channels-last memory format (CUDA)",
    "compile": 'torch.compile(mode="reduce-overhead") of the model\'s loss: CUDA graphs for small steps (CUDA)',
    "fused_adam": "Adam/AdamW with the fused kernel (one launch for all parameters)",
    "fp32": "no bf16 autocast in training (CUDA trains under bf16 autocast otherwise)",
}


def fast_paths(value) -> frozenset:
    """The fast-path names of a budget's ``fast`` (a tuple, or a comma-separated string from the
    command line); an unknown name is one line listing the known ones."""
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value or ()) if n.strip()]
    unknown = [n for n in names if n not in FAST_PATHS]
    if unknown:
        raise DgmbenchError(f"--fast {unknown[0]!r} is not a fast path; choose from {', '.join(FAST_PATHS)}")
    return frozenset(names)


def protocol_for(reg: Registry, record: RunRecord) -> ProtocolSpec | None:
    return None if record.protocol in ("default", "", None) else reg.get("protocols", record.protocol)


def model_config(spec: ModelSpec, protocol: ProtocolSpec | None, record: RunRecord) -> dict:
    cell = protocol.cell(record.cell).config if protocol and record.cell else {}
    return {**spec.defaults, **cell, **record.config}


def effective_config(config: dict, model) -> dict:
    """The config a built model runs with: ``config`` (the spec's declared defaults, the cell's and
    ``--config``'s values) updated by the model's own ``config`` attribute, where a model fills
    defaults inside ``build`` (the GANs' sizes per dataset). Values JSON cannot hold are stored
    as their ``repr``, so that the record can always be written."""
    import json

    def jsonable(value):
        try:
            json.dumps(value)
            return value
        except (TypeError, ValueError):
            return repr(value)

    own = getattr(model, "config", None)
    merged = {**config, **(own if isinstance(own, dict) else {})}
    return {str(k): jsonable(v) for k, v in merged.items()}


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
    own = resolve(spec.metrics)(reg.dataset(record.dataset)) if isinstance(spec.metrics, str) else spec.metrics
    if own:
        return check_metrics(reg, list(own), spec)
    return [reg.get("metrics", m) for m in DEFAULT_METRICS
            if m in reg.items["metrics"] and reg.items["metrics"][m].supported_by(spec.capabilities)]


@dataclass
class Plan:
    """What a run record resolves to, before any data or model is touched. ``model`` is the
    model's registered name (the record may name it by an alias or its plugin)."""

    spec: ModelSpec
    dataset: DatasetSpec
    protocol: ProtocolSpec | None
    metrics: list
    budget: Budget
    config: dict

    @property
    def model(self) -> str:
        return self.spec.name


def plan(reg: Registry, record: RunRecord) -> Plan:
    """Resolve names (unknown ones fail here, with suggestions), metrics, budget and config.
    ``record`` is not changed: ``plan(...).model`` is the model's resolved name."""
    spec = reg.model_for(record.model)
    ds = reg.dataset(record.dataset)
    protocol = protocol_for(reg, record)
    metrics = metrics_for(reg, record, spec, protocol)
    budget = resolve_budget(record.budget, protocol.budgets if protocol else None, spec.budgets,
                            overrides=record.overrides)
    fast_paths(budget.fast)  # an unknown fast path: one line, before anything is stored
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
