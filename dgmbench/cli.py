"""The ``dgmbench`` command line. torch is imported only by commands that train or evaluate,
so ``dgmbench --help``, ``plugins``, ``list`` and ``leaderboard`` answer quickly."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from . import __version__
from .errors import DgmbenchError, Terminated

LIST_KINDS = {"models": "models", "datasets": "datasets", "metrics": "metrics", "protocols": "protocols",
              "feature-networks": "feature_networks"}


def _key_values(items) -> dict:
    """``KEY=VALUE`` strings -> dict, with VALUE parsed as JSON when it parses (numbers, bools)."""
    import json

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


def _table(rows, headers, fit: bool = False) -> str:
    """A terminal table; with ``fit`` the widest columns wrap until it fits the terminal's width
    (``$COLUMNS``, else the terminal's; output to a pipe or file is not wrapped)."""
    import shutil

    from tabulate import tabulate

    widths = None
    if fit and rows and (sys.stdout.isatty() or "COLUMNS" in os.environ):  # piped: one line per row, for grep
        # tabulate pads a header by two spaces
        widths = [max(len(h) + 2, *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
        room = shutil.get_terminal_size((100, 24)).columns - 2 * (len(headers) - 1) - 1
        while sum(widths) > room and max(widths) > 10:
            widths[widths.index(max(widths))] -= 1
    return tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=widths)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, help="results database (default: dgmbench-results/results.sqlite, "
                                                "env DGMBENCH_RESULTS)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--data-root", help="where datasets live (env DGMBENCH_DATA)")
    p.add_argument("--metric", action="append", dest="metrics", metavar="NAME",
                   help="a metric to compute (repeatable; default: the protocol's, or nll)")
    p.add_argument("--feature-net", help="backbone for sample metrics: inception | domain | a plugin's")
    p.add_argument("--metric-option", action="append", metavar="KEY=VALUE", default=[],
                   help="an option for the metrics, e.g. nll_k=1000 or sample_metric_n=2000")


BUDGET_FLAGS = {"epochs": int, "max_seconds": float, "max_steps": int, "lr": float, "batch_size": int,
                "max_train_examples": int, "max_test_examples": int, "log_every": int, "eval_every": int}


def _budget_flags(p: argparse.ArgumentParser) -> None:
    for name, typ in BUDGET_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=typ,
                       help="a safety cap on training time: a run it stops before its planned steps is stored "
                            "'truncated' (does not rename the budget)" if name == "max_seconds" else
                       f"override the budget's {name.replace('_', ' ')} (renames the budget)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dgmbench", description="Benchmark deep generative models with plugins.")
    ap.add_argument("--version", action="version", version=f"dgmbench {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train and evaluate one model, store the run, print its row")
    run.add_argument("--plugin", required=True, help="a plugin or model name (see `dgmbench plugins`)")
    run.add_argument("--dataset", help="dataset name or imagefolder:PATH (default: digits, or the protocol's)")
    run.add_argument("--protocol", default="default", help="a protocol whose cell this run fills")
    run.add_argument("--cell", help="the protocol cell (default: the one for this model and dataset)")
    run.add_argument("--budget", default="quick", help="smoke | quick | full (default: quick)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, help="folder for run outputs (default: next to the results file)")
    run.add_argument("--download", action="store_true", help="download the dataset if it is missing")
    run.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    run.add_argument("--config", action="append", metavar="KEY=VALUE", default=[], help="model config override")
    _budget_flags(run)
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--grid-samples", type=int, help="samples in the saved grid (default 64; 0: no grid)")
    _common(run)

    ev = sub.add_parser("eval", help="score a saved model with no training and store the result")
    ev.add_argument("--checkpoint", required=True, type=Path)
    ev.add_argument("--plugin", help="the model, for a checkpoint not written by dgmbench")
    ev.add_argument("--dataset", help="the dataset, for a checkpoint not written by dgmbench")
    ev.add_argument("--budget", help="sets metric options such as nll_k (default: the run's own budget, "
                                     "so its values join the run's leaderboard cell; quick for other files)")
    ev.add_argument("--max-test-examples", type=int, help="score only the first N test examples (renames the budget)")
    _common(ev)

    sub.add_parser("plugins", help="installed plugins: name, version, distribution, what each provides")

    ls = sub.add_parser("list", help="list registered models, datasets, metrics, protocols")
    ls.add_argument("kind", choices=sorted(LIST_KINDS))

    lb = sub.add_parser("leaderboard", help="export a protocol's table beside its reference values")
    lb.add_argument("name")
    lb.add_argument("--format", default="md", choices=["md", "csv", "json", "latex"])
    lb.add_argument("--output", type=Path, help="write to this file instead of standard output")
    lb.add_argument("--results", type=Path, help="results database (default as for run)")
    lb.add_argument("--budget", help="which budget's runs (default: the latest)")

    dr = sub.add_parser("doctor", help="check a results file (read-only); --repair OUT writes a repaired copy")
    dr.add_argument("results", type=Path)
    dr.add_argument("--repair", type=Path, metavar="OUT", help="a new results file with every row that can be kept")

    rp = sub.add_parser("reproduce", help="run every cell of a protocol's table, then export it")
    rp.add_argument("name")
    rp.add_argument("--budget", default="quick")
    rp.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the protocol's)")
    rp.add_argument("--cells", nargs="+", help="only these cells")
    rp.add_argument("--config", action="append", metavar="KEY=VALUE", default=[],
                    help="model config override for every cell (e.g. a smaller width for a CPU measurement; "
                         "stored with each run)")
    rp.add_argument("--out", type=Path)
    rp.add_argument("--download", action="store_true")
    rp.add_argument("--no-progress", action="store_true")
    rp.add_argument("--grid-samples", type=int, help="samples in each run's grid (default 64; 0: no grid)")
    rp.add_argument("--rerun", action="store_true",
                    help="run cells again even when the results file already has them for this budget")
    rp.add_argument("--format", default="md", choices=["md", "csv", "json", "latex"])
    rp.add_argument("--output", type=Path, help="write the leaderboard to this file too")
    _budget_flags(rp)
    _common(rp)
    from .executors import add_arguments as executor_arguments

    executor_arguments(rp)

    rep = sub.add_parser("report", help="a static HTML site: leaderboards, runs, sample grids and curves")
    rep.add_argument("--results", type=Path, nargs="+", help="results files (default as for run)")
    rep.add_argument("--output", type=Path, default=Path("site"), help="folder for the site (default: site/)")

    rs = sub.add_parser("runs", help="the stored runs as a table (ad-hoc runs too)")
    rs.add_argument("--results", type=Path, help="results database (default as for run)")
    rs.add_argument("--protocol", help="only this protocol's runs (default for ad-hoc runs)")
    rs.add_argument("--status", help="only runs with this status (ok, partial, truncated, failed...)")
    rs.add_argument("--last", type=int, metavar="N", help="only the newest N")

    sf = sub.add_parser("score-folder", help="FID, KID, IS, precision/recall of a folder of images against another")
    sf.add_argument("real", type=Path, help="folder of real images (searched recursively)")
    sf.add_argument("fake", type=Path, help="folder of generated images")
    sf.add_argument("--feature-net", default="inception",
                    help="inception (clean-fid's weights) | domain (a classifier trained on --dataset) | a plugin's")
    sf.add_argument("--dataset", help="for --feature-net domain: the dataset whose classifier to use "
                                      "(default: imagefolder:REAL, which needs class subfolders)")
    sf.add_argument("--data-root", help="where datasets live (env DGMBENCH_DATA)")
    sf.add_argument("--device", default="auto")
    sf.add_argument("--metric-option", action="append", metavar="KEY=VALUE", default=[],
                    help="kid_subsets, kid_subset_size, is_splits, pr_k, domain_net_steps")

    sh = sub.add_parser("show", help="one run's facts, config, metric values and files")
    sh.add_argument("run", help="a run id (or a unique prefix), or its output folder's name")
    sh.add_argument("--results", type=Path, help="results database (default as for run)")
    return ap


def _registry():
    from .plugins import load_registry

    reg = load_registry()
    for name, err in reg.failures.items():
        print(f"warning: plugin {name!r} is broken and was skipped: {err}", file=sys.stderr)
    return reg


def _metric_options(args) -> dict:
    """Options that do not move the numbers: the feature network (it tags every sample-metric
    value) and the size of the sample grid."""
    options = {"feature_net": args.feature_net} if args.feature_net else {}
    if getattr(args, "grid_samples", None) is not None:
        options["grid_samples"] = args.grid_samples
    return options


def _overrides(args) -> dict:
    """Budget changes from the command line, metric options (nll_k...) included: they rename the budget."""
    out = {n: getattr(args, n) for n in BUDGET_FLAGS if getattr(args, n, None) is not None}
    if getattr(args, "metric_option", None):
        out["metric_options"] = _key_values(args.metric_option)
    return out


def _check_numbers(args) -> None:
    """Numeric flags and metric options in range and finite (dgmbench.options), before any work."""
    from .options import check_all

    check_all({n: getattr(args, n, None) for n in [*BUDGET_FLAGS, "grid_samples"]})
    check_all({"seed": getattr(args, "seeds", None) or getattr(args, "seed", None)})
    check_all(_key_values(getattr(args, "metric_option", None)), prefix="")


def _check_names(args) -> None:
    """Misspelt plugin, dataset, budget, metric, protocol or feature-network names fail here, in a
    fraction of a second: before a command imports torch (about 2 s)."""
    if args.command not in ("run", "eval", "reproduce", "score-folder"):
        return
    from .budgets import resolve_budget
    from .plugins import load_registry

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


def _pick_cell(reg, protocol_name: str, model: str, dataset: str | None, cell: str | None):
    protocol = reg.get("protocols", protocol_name)
    if cell:
        try:
            return protocol.cell(cell)
        except KeyError:
            from .errors import UnknownName

            raise UnknownName(f"cell of protocol {protocol_name}", cell, [c.key for c in protocol.cells]) from None
    matches = [c for c in protocol.cells if c.model == model and (dataset is None or c.dataset == dataset)]
    if len(matches) != 1:
        found = ", ".join(c.key for c in matches) or "none"
        raise DgmbenchError(f"protocol {protocol_name!r} has {len(matches)} cells for model {model!r} "
                            f"(found: {found}); choose one with --cell")
    return matches[0]


def _print_row(outcome, reg) -> None:
    """The run's leaderboard row, beside the paper's value when the protocol has one."""
    row = {"model": outcome.record.model, "dataset": outcome.record.dataset,
           "budget": outcome.budget, "seed": outcome.record.seed}
    row.update({k: round(v, 4) for k, v in outcome.metrics.items()})
    row["wall s"] = round(outcome.wall_time_s, 1)
    if outcome.train_images_per_s:
        row["train img/s"] = round(outcome.train_images_per_s, 1)
    if outcome.record.protocol not in ("default", None) and outcome.record.cell:
        from .leaderboard import joins, reference_table

        protocol = reg.get("protocols", outcome.record.protocol)
        cell = protocol.cell(outcome.record.cell)
        ref = reference_table(protocol)
        for _, r in ref.iterrows():
            if joins(r, cell):
                row.update({f"{col} (paper)": r[col] for col in protocol.columns.values()})
    print(_table([list(row.values())], list(row.keys())))
    if getattr(outcome, "stopped", ""):
        print(f"truncated: {outcome.stopped}")
    if outcome.out_dir is None:  # an evaluation: no training, so no samples, curves or checkpoint
        print(f"run {outcome.run_id} stored (evaluation only; `dgmbench show {outcome.run_id}` lists it)")
    else:
        print(f"run {outcome.run_id} stored; samples, curves and checkpoint in {outcome.out_dir}")


def cmd_run(args) -> int:
    from .distributed import init_from_env, is_main, rank_results
    from .runner import execute
    from .specs import RunRecord

    device = init_from_env(args.device)  # under torchrun: join the process group; this process's device
    reg = _registry()
    spec = reg.model_for(args.plugin)
    cell_key, dataset = None, args.dataset
    if args.protocol not in ("default", None):
        cell = _pick_cell(reg, args.protocol, spec.name, args.dataset, args.cell)
        cell_key, dataset = cell.key, args.dataset or cell.dataset
    record = RunRecord(model=spec.name, dataset=dataset or "digits", protocol=args.protocol, budget=args.budget,
                       seed=args.seed, config=_key_values(args.config), cell=cell_key, metrics=args.metrics,
                       device=device, data_root=args.data_root, download=args.download,
                       overrides=_overrides(args), options=_metric_options(args))
    outcome = execute(record, results=rank_results(args.results), out_root=args.out, resume=args.resume,
                      progress=not args.no_progress and is_main(), reg=reg)
    if is_main():
        _print_row(outcome, reg)
    return 0


def cmd_eval(args) -> int:
    from .distributed import init_from_env, is_main, rank_results
    from .runner import evaluate_checkpoint

    device = init_from_env(args.device)
    reg = _registry()
    outcome = evaluate_checkpoint(args.checkpoint, args.metrics, results=rank_results(args.results), device=device,
                                  model=args.plugin, dataset=args.dataset, data_root=args.data_root,
                                  budget=args.budget, reg=reg, max_test_examples=args.max_test_examples,
                                  options={**_key_values(args.metric_option), **_metric_options(args)})
    if is_main():
        _print_row(outcome, reg)
    return 0


def cmd_plugins(args) -> int:
    reg = _registry()
    rows = []
    for name, info in sorted(reg.plugins.items()):
        provides = "; ".join(f"{kind}: {_summary(names, kind)}" for kind, names in info.provides.items())
        status = f"BROKEN: {reg.failures[name]}" if name in reg.failures else provides
        rows.append([name, info.version, info.distribution, status])
    print(_table(rows, ["plugin", "version", "distribution", "provides"], fit=True))
    return 0


def _summary(names, kind: str, shown: int = 6) -> str:
    """The first few names, and how many in all where there are more (``dgmbench list`` has them all)."""
    names = list(dict.fromkeys(names))
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])}... ({len(names)}; dgmbench list {kind.replace('_', '-')})"


def cmd_list(args) -> int:
    reg = _registry()
    kind = LIST_KINDS[args.kind]
    rows = []
    for name, spec in sorted(reg.items[kind].items()):
        if kind == "models":
            rows.append([name, spec.plugin, ", ".join(spec.capabilities), spec.description])
        elif kind == "datasets":
            levels = spec.levels if spec.levels is not None else "real"
            rows.append([name, "x".join(map(str, spec.shape)), levels, spec.description])
        elif kind == "metrics":
            needs = " or ".join("+".join(alt) or "-" for alt in spec.requires)
            rows.append([name, needs, spec.description])
        elif kind == "protocols":
            rows.append([name, spec.version, len(spec.cells), ", ".join(spec.metrics), spec.description])
        else:
            rows.append([name, spec.plugin, spec.description])
    headers = {"models": ["model", "plugin", "capabilities", "description"],
               "datasets": ["dataset", "shape", "levels", "description"],
               "metrics": ["metric", "needs", "description"],
               "protocols": ["protocol", "version", "cells", "metrics", "description"],
               "feature_networks": ["feature network", "plugin", "description"]}[kind]
    if kind == "datasets":
        rows.append(["imagefolder:PATH", "(the images')", 256, "your images, PATH/<class>/*.png (or PATH/train, "
                     "PATH/test; else split 90/10)"])
    print(_table(rows, headers, fit=True))
    return 0


def _write_provenance(output: Path, results, budget: str) -> None:
    """What produced a leaderboard file: command, device, budget, date, code, raw results file."""
    import datetime
    import json
    import platform

    from .runner import code_version, default_results_path, library_versions

    path = output.with_name(output.name + ".provenance.json")
    earlier = []  # a table filled by several commands (e.g. groups of cells) keeps them all
    if path.exists():
        try:
            old = json.loads(path.read_text())
            if old.get("results_file") == str(results or default_results_path()) and old.get("budget") == budget:
                earlier = old.get("commands") or [{"command": old["command"], "date": old["date"]}]
        except (OSError, ValueError, KeyError):
            pass
    command = {"command": "dgmbench " + " ".join(sys.argv[1:]),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    info = {"commands": [*earlier, command], "budget": budget,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "results_file": str(results or default_results_path()), "code_version": code_version(),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores",
            "libraries": library_versions()}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    path.write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {path}")


def _write_leaderboard(reg, name, results, budget, fmt, output) -> None:
    from . import leaderboard
    from .runner import default_results_path
    from .store import Store

    protocol = reg.get("protocols", name)
    path = Path(results or default_results_path())
    store = Store(path, readonly=True) if path.exists() else None  # reading never writes (no migration)
    df, caption = leaderboard.build(protocol, store, budget)
    if not any(df[c].notna().any() for c in df.columns if c.endswith("(ours)")):
        committed = Path("leaderboards") / name / "results.sqlite"
        print(f"note: {path} holds no measured runs of {name} v{protocol.version}: `dgmbench reproduce {name}` "
              "fills the table" + (f"; the committed numbers: --results {committed}" if committed.is_file() else ""),
              file=sys.stderr)
    text = leaderboard.export(df, caption, fmt)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        print(f"wrote {output}")
    else:
        print(text, end="")


def cmd_leaderboard(args) -> int:
    _write_leaderboard(_registry(), args.name, args.results, args.budget, args.format, args.output)
    return 0


def _done_cells(results, protocol, budget: str) -> dict:
    """(cell, seed) -> (metrics measured, checkpoint of its latest training run) for the runs the
    results file already has, finished, for this protocol version and budget."""
    from .runner import default_results_path
    from .store import Store

    path = Path(results or default_results_path())
    if not path.exists():
        return {}
    store = Store(path)
    runs = store.runs()
    runs = runs[(runs.protocol == protocol.name) & (runs.protocol_version == protocol.version)
                & (runs.budget == budget) & runs.status.isin(["ok", "partial", "truncated"])]
    measured = store.metrics().groupby("run_id").metric.agg(set)
    done: dict = {}
    for run in runs.itertuples():
        metrics, checkpoint = done.get((run.cell, run.seed), (set(), None))
        if run.n_train and run.out_dir:
            checkpoint = Path(run.out_dir) / "checkpoint.pt"
        done[(run.cell, run.seed)] = (metrics | measured.get(run.run_id, set()), checkpoint)
    return done


def _fill_in(args, reg, name: str, seed: int, missing: list, checkpoint: Path | None) -> None:
    """Score a measured cell's stored checkpoint for the metrics it lacks (a column added later)."""
    from .runner import evaluate_checkpoint

    if checkpoint is None or not checkpoint.is_file():
        raise DgmbenchError(f"{', '.join(missing)} missing and the run's checkpoint is gone ({checkpoint}); "
                            "--rerun trains it again")
    print(f"== {name} / seed {seed}: measured; scoring its checkpoint for {', '.join(missing)}", flush=True)
    outcome = evaluate_checkpoint(checkpoint, missing, results=args.results, device=args.device,
                                  data_root=args.data_root, reg=reg, options=_metric_options(args))
    _print_row(outcome, reg)


def _truncated_cells(results, protocol, budget: str, max_seconds: float | None) -> set:
    """(cell, seed) measured only by ``truncated`` runs that this command's time cap (if any) lets
    train further: re-running ``reproduce`` resumes them from their checkpoints."""
    from .runner import default_results_path
    from .store import Store

    path = Path(results or default_results_path())
    if not path.exists():
        return set()
    runs = Store(path).runs()
    runs = runs[(runs.protocol == protocol.name) & (runs.protocol_version == protocol.version)
                & (runs.budget == budget) & runs.status.isin(["ok", "partial", "truncated"])]
    out = set()
    for (cell, seed), group in runs.groupby(["cell", "seed"]):
        if (group.status == "truncated").all() and (max_seconds is None or group.train_time_s.max() < max_seconds):
            out.add((cell, int(seed)))
    return out


def cmd_reproduce(args) -> int:
    from .budgets import resolve_budget
    from .executors import Job, run_jobs, settings_from
    from .specs import RunRecord

    reg = _registry()
    protocol = reg.get("protocols", args.name)
    cells = [protocol.cell(k) for k in args.cells] if args.cells else list(protocol.cells)
    budget = resolve_budget(args.budget, overrides=_overrides(args)).name
    done = {} if args.rerun else _done_cells(args.results, protocol, budget)
    truncated = set() if args.rerun else _truncated_cells(args.results, protocol, budget, args.max_seconds)
    settings = settings_from(args, args.results)
    data_root = str(Path(args.data_root).resolve()) if args.data_root and args.executor != "local" else args.data_root
    failed, jobs = 0, []
    for cell in cells:
        if cell.model not in reg.items["models"]:
            print(f"skip {cell.key}: model {cell.model!r} is not installed")
            continue
        for seed in args.seeds or protocol.seeds:
            measured, checkpoint = done.get((cell.key, seed), (None, None))
            missing = [m for m in args.metrics or [] if measured is not None and m not in measured]
            resume = (cell.key, seed) in truncated
            if resume:
                print(f"resume {cell.key} / seed {seed}: truncated earlier; training on from its checkpoint")
            elif measured is not None and not missing:
                print(f"skip {cell.key} / seed {seed}: already in the results file (--rerun to run it again)")
                continue
            elif missing:
                try:
                    _fill_in(args, reg, f"{protocol.name} / {cell.key}", seed, missing, checkpoint)
                except DgmbenchError as exc:  # one failed cell must not stop the table
                    failed += 1
                    print(f"error: {protocol.name}/{cell.key}/seed {seed}: {exc}", file=sys.stderr)
                continue
            jobs.append(Job(RunRecord(model=cell.model, dataset=cell.dataset, protocol=protocol.name,
                                      budget=args.budget, seed=seed, cell=cell.key, metrics=args.metrics,
                                      config=_key_values(args.config),
                                      device=args.device, data_root=data_root, download=args.download,
                                      overrides=_overrides(args), options=_metric_options(args)), resume=resume))
    failed += run_jobs(jobs, settings, reg, lambda outcome: _print_row(outcome, reg))
    _write_leaderboard(reg, args.name, args.results, budget, args.format, args.output)
    if args.output:
        _write_provenance(args.output, args.results, budget)
    return 1 if failed else 0


def cmd_report(args) -> int:
    from .report import build_site
    from .runner import default_results_path

    index = build_site(args.results or [default_results_path()], args.output, _registry().items["protocols"])
    print(f"wrote {index} (open it in a browser; the folder can be copied anywhere)")
    return 0


def cmd_score_folder(args) -> int:
    from .score_folder import score_folders

    values = score_folders(args.real, args.fake, args.feature_net, dataset=args.dataset, data_root=args.data_root,
                           device=args.device, options=_key_values(args.metric_option), reg=_registry())
    print(_table([[k, f"{v:.6g}"] for k, v in values.items()], ["value", f"{args.fake} against {args.real}"]))
    return 0


def cmd_runs(args) -> int:
    from .browse import open_store, runs_table
    from .runner import default_results_path

    print(runs_table(open_store(args.results or default_results_path()), args.protocol, args.status, args.last))
    return 0


def cmd_show(args) -> int:
    from .browse import open_store, show_run
    from .runner import default_results_path

    print(show_run(open_store(args.results or default_results_path()), args.run))
    return 0


def cmd_doctor(args) -> int:
    from .doctor import diagnose, repair

    lines, sound = diagnose(args.results)
    print("\n".join([f"{args.results}:", *lines, "sound" if sound else "damaged: dgmbench refuses to write into it"]))
    if args.repair:
        print("\n".join(repair(args.results, args.repair)) + f"\nwrote {args.repair}")
        return 0
    return 0 if sound else 1


COMMANDS = {"run": cmd_run, "eval": cmd_eval, "plugins": cmd_plugins, "list": cmd_list,
            "leaderboard": cmd_leaderboard, "reproduce": cmd_reproduce, "report": cmd_report, "runs": cmd_runs,
            "score-folder": cmd_score_folder,
            "show": cmd_show, "doctor": cmd_doctor}


def _terminate(signum, frame):
    raise Terminated


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)  # a killed run settles like a Ctrl-C'd one
    try:
        _check_numbers(args)
        _check_names(args)
        return COMMANDS[args.command](args)
    except DgmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{what}: the last completed epoch's checkpoint and the results store are intact; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # a bug, most likely in a plugin: one line unless asked for the traceback
        if os.environ.get("DGMBENCH_DEBUG"):
            raise
        where = exc.__traceback__
        while where.tb_next is not None:
            where = where.tb_next
        origin = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}"
        print(f"error: {type(exc).__name__}: {exc} (at {origin}; set DGMBENCH_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
