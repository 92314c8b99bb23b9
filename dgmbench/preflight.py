"""The checks a command makes before any work: numbers in range, names that exist, config keys
and values the models declare, places that can be written, and feature networks that can be
built. Misspelt names and bad values fail here in a fraction of a second, before a command
imports torch (about 2 s), with nothing stored."""
from __future__ import annotations

from .budgets import resolve_budget
from .errors import ConfigError, DgmbenchError
from .options import BUDGET_FLAGS, check_all, key_values
from .paths import check_writable, results_file, runs_folder
from .specs import resolve


def check_numbers(args) -> None:
    """Numeric flags and metric options in range and finite (dgmbench.options), before any work."""
    check_all({n: getattr(args, n, None) for n in [*BUDGET_FLAGS, "grid_samples"]})
    check_all({"seed": getattr(args, "seeds", None) or getattr(args, "seed", None)})
    check_all(key_values(getattr(args, "metric_option", None)), prefix="")


def check_names(args) -> None:
    """Misspelt plugin, dataset, budget, metric, protocol, cell, feature-network or config names,
    config values out of their declared range, and places that cannot be written fail here, in a
    fraction of a second: before a command imports torch (about 2 s)."""
    if args.command not in ("run", "eval", "reproduce", "score-folder", "report"):
        return
    from .plugins import load_registry

    if args.command == "report":
        if args.output.exists() and not args.output.is_dir():
            raise DgmbenchError(f"report --output {args.output} is a file; the site is a folder: name a folder")
        return check_writable(args.output, "--output")
    reg = load_registry()  # the command loads it again and reports broken plugins
    if getattr(args, "plugin", None):
        reg.model_for(args.plugin)
    if getattr(args, "dataset", None):
        reg.dataset(args.dataset)
    if getattr(args, "budget", None):
        resolve_budget(args.budget)
    for name in getattr(args, "metrics", None) or []:
        reg.get("metrics", name)
    if getattr(args, "feature_net", None):
        reg.get("feature_networks", args.feature_net)
    protocol = args.name if args.command == "reproduce" else getattr(args, "protocol", None)
    if protocol not in (None, "default"):
        reg.get("protocols", protocol)
    if args.command in ("run", "reproduce"):
        check_config(reg, args, protocol)
    if args.command == "run":
        check_data(reg, args)
    if args.command in ("run", "reproduce"):
        check_writable(results_file(args.results), "--results")
        check_writable(runs_folder(args.results, args.out), "--out")
    elif args.command == "eval":
        check_writable(results_file(args.results), "--results")


def check_config(reg, args, protocol: str | None) -> None:
    """``--config`` against the declared keys and values of the model(s) it applies to; for a
    sweep, against each installed cell's model (a key none of them reads is refused)."""
    from .sweep import select_cells

    config = key_values(args.config)
    if args.command == "run":
        return reg.model_for(args.plugin).check_config(config)
    cells = select_cells(reg.get("protocols", protocol), args.cells)
    specs = {c.model: reg.items["models"][c.model] for c in cells if c.model in reg.items["models"]}
    for key, value in config.items():
        readers = [s for s in specs.values() if key in s.config_types() or not s.config_types()]
        if specs and not readers:
            raise ConfigError(f"no model of this sweep ({', '.join(specs)}) has config key {key!r} (--config)")
        for spec in readers:
            spec.check_config({key: value})


def check_data(reg, args) -> None:
    """A run's dataset files (those its DatasetSpec declares) on disk under the data root, unless
    ``--download`` fetches them: a missing one fails here, in a fraction of a second, instead of
    after importing torch and torchvision (about 4 s)."""
    from .errors import DataError
    from .paths import data_root

    name = args.dataset
    if name is None and args.cell and args.protocol not in (None, "default"):
        cells = [c for c in reg.get("protocols", args.protocol).cells if c.key == args.cell]
        name = cells[0].dataset if cells else None
    if name is None or args.download:
        return
    root = data_root(args.data_root)
    missing = reg.dataset(name).missing_file(root)
    if missing:
        raise DataError(f"{name} not found under {root}: expected {missing} there: copy the files in, point "
                        "--data-root (or DGMBENCH_DATA) at the folder that holds them, or pass --download")


def check_feature_nets(reg, records) -> None:
    """Refuse, before any training, runs whose metrics use a feature network that cannot be
    built here (clean-fid's Inception weights missing offline): each network's ``check`` once."""
    from .runner import metrics_for, protocol_for

    nets = set()
    for record in records:
        spec = reg.model_for(record.model)
        if any(m.feature_net for m in metrics_for(reg, record, spec, protocol_for(reg, record))):
            nets.add(record.options.get("feature_net") or "inception")
    for name in sorted(nets):
        net = reg.get("feature_networks", name)
        if net.check is not None:
            resolve(net.check)()
