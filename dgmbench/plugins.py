"""Plugin discovery and the registry of everything the plugins provide.

Plugins come from the ``dgmbench`` entry-point group (the built-in ones too) plus the core's
own :mod:`dgmbench.builtin`. Each plugin is loaded and asked for its specs on its own, so a
plugin that fails to import, raises, or returns malformed specs is recorded in
:attr:`Registry.failures` by name with its error, and the others keep working.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs, specs
from .errors import PluginError, UnknownName

ENTRY_POINT_GROUP = "dgmbench"
_KINDS = {
    "datasets": ("dgmbench_datasets", specs.DatasetSpec),
    "models": ("dgmbench_models", specs.ModelSpec),
    "metrics": ("dgmbench_metrics", specs.MetricSpec),
    "protocols": ("dgmbench_protocols", specs.ProtocolSpec),
    "feature_networks": ("dgmbench_feature_networks", specs.FeatureNetworkSpec),
}


@dataclass
class PluginInfo:
    name: str
    version: str = ""
    distribution: str = ""
    provides: dict = field(default_factory=dict)  # kind -> [names]


@dataclass
class Registry:
    pm: pluggy.PluginManager
    plugins: dict = field(default_factory=dict)   # plugin name -> PluginInfo
    failures: dict = field(default_factory=dict)  # plugin name -> one-line error
    items: dict = field(default_factory=lambda: {k: {} for k in _KINDS})

    def get(self, kind: str, name: str):
        table = self.items[kind]
        if name not in table:
            label = kind[:-1].replace("_", " ")
            if name in self.failures:
                raise PluginError(f"plugin {name!r} is broken: {self.failures[name]}")
            raise UnknownName(label, name, table)
        return table[name]

    def model_for(self, name: str) -> specs.ModelSpec:
        """A model by its own name, or the first model of the plugin of that name."""
        if name in self.items["models"]:
            return self.items["models"][name]
        info = self.plugins.get(name)
        if info and info.provides.get("models"):
            return self.items["models"][info.provides["models"][0]]
        if name in self.failures:
            raise PluginError(f"plugin {name!r} is broken: {self.failures[name]}")
        raise UnknownName("plugin or model", name, set(self.items["models"])
                          | {p for p, i in self.plugins.items() if i.provides.get("models")})

    def dataset(self, name: str) -> specs.DatasetSpec:
        """A registered dataset, or ``imagefolder:PATH`` for a user's own images."""
        if name.startswith("imagefolder:"):
            from .datasets import imagefolder_spec

            return imagefolder_spec(name.split(":", 1)[1])
        return self.get("datasets", name)


def _validate(kind: str, cls: type, result: Any, plugin: str) -> list:
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise PluginError(f"{_KINDS[kind][0]}() returned {type(result).__name__}, expected a list of {cls.__name__}")
    out = []
    for item in result:
        if not isinstance(item, cls):
            raise PluginError(f"{_KINDS[kind][0]}() returned {item!r:.60}, expected {cls.__name__}")
        if not isinstance(item.name, str) or not item.name.strip():
            raise PluginError(f"a {cls.__name__} has no name")
        if kind == "models":
            bad = set(item.capabilities) - set(specs.CAPABILITIES)
            if bad:
                raise PluginError(f"model {item.name!r} declares unknown capabilities {sorted(bad)}")
        if kind == "protocols" and not item.cells:
            raise PluginError(f"protocol {item.name!r} has no cells")
        out.append(dataclasses.replace(item, plugin=plugin))
    return out


def _distribution(ep) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    return (dist.metadata["Name"], dist.version) if dist is not None else ("", "")


def load_registry(extra_plugins: dict | None = None) -> Registry:
    """Load every plugin and collect its specs. ``extra_plugins`` (name -> module or object)
    registers plugins directly, for programmatic use."""
    from . import __version__, builtin

    pm = pluggy.PluginManager("dgmbench")
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm)
    candidates: list[tuple[str, Any, str, str]] = [("dgmbench", builtin, "dgmbench", __version__)]
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist, version = _distribution(ep)
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            reg.failures[ep.name] = f"import failed: {type(exc).__name__}: {exc}"
            reg.plugins[ep.name] = PluginInfo(ep.name, version, dist)
            continue
        candidates.append((ep.name, obj, dist, version))
    for name, obj in (extra_plugins or {}).items():
        candidates.append((name, obj, "", ""))

    for name, obj, dist, version in candidates:
        if name in reg.plugins:
            continue  # the same entry point seen twice (e.g. an editable and a normal install)
        try:
            pm.register(obj, name=name)
        except Exception as exc:
            reg.failures[name] = f"registration failed: {type(exc).__name__}: {exc}"
            continue
        info = PluginInfo(name, version, dist)
        collected: dict[str, list] = {}
        try:
            for kind, (hook, cls) in _KINDS.items():
                impl = getattr(obj, hook, None)
                collected[kind] = _validate(kind, cls, impl(), name) if impl else []
            for kind, items in collected.items():
                for item in items:
                    if item.name in reg.items[kind]:
                        other = reg.items[kind][item.name].plugin
                        raise PluginError(f"{kind[:-1]} {item.name!r} is already provided by plugin {other!r}")
        except Exception as exc:
            reg.failures[name] = f"{type(exc).__name__}: {exc}"
            pm.unregister(obj)
            reg.plugins[name] = info
            continue
        for kind, items in collected.items():
            for item in items:
                reg.items[kind][item.name] = item
            if items:
                info.provides[kind] = [i.name for i in items]
        reg.plugins[name] = info
    return reg
