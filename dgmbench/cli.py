"""The ``dgmbench`` command line. torch is imported only by commands that train or evaluate,
so ``dgmbench --help``, ``plugins``, ``list`` and ``leaderboard`` answer quickly."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from . import __version__, preflight
from .errors import DgmbenchError, Terminated
from .options import BUDGET_FLAGS, key_values

LIST_KINDS = {"models": "models", "datasets": "datasets", "metrics": "metrics", "protocols": "protocols",
              "feature-networks": "feature_networks", "cells": "cells"}


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

    ls = sub.add_parser("list", help="list registered models, datasets, metrics, protocols; a protocol's cells")
    ls.add_argument("kind", choices=sorted(LIST_KINDS))
    ls.add_argument("protocol", nargs="?", help="for `list cells`: the protocol whose cells to list")

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
        out["metric_options"] = key_values(args.metric_option)
    return out


def _record(args, **fields):
    """The run record the command line describes: ``fields`` (model, dataset, cell, seed...) and
    the flags every training command shares."""
    from .specs import RunRecord

    common = dict(budget=args.budget, config=key_values(args.config), metrics=args.metrics, device=args.device,
                  data_root=args.data_root, download=args.download, overrides=_overrides(args),
                  options=_metric_options(args))
    return RunRecord(**{**common, **fields})


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


def cmd_run(args) -> int:
    from .distributed import init_from_env, is_main, rank_results
    from .runner import execute

    device = init_from_env(args.device)  # under torchrun: join the process group; this process's device
    reg = _registry()
    spec = reg.model_for(args.plugin)
    cell_key, dataset = None, args.dataset
    if args.protocol not in ("default", None):
        cell = _pick_cell(reg, args.protocol, spec.name, args.dataset, args.cell)
        cell_key, dataset = cell.key, args.dataset or cell.dataset
    record = _record(args, model=spec.name, dataset=dataset or "digits", protocol=args.protocol, seed=args.seed,
                     cell=cell_key, device=device)
    preflight.check_feature_nets(reg, [record])
    _say_which_model(reg, args.plugin, spec.name)
    outcome = execute(record, results=rank_results(args.results), out_root=args.out, resume=args.resume,
                      progress=not args.no_progress and is_main(), reg=reg)
    if is_main():
        _print_row(outcome, reg)
    return 0


def _say_which_model(reg, asked: str, model: str) -> None:
    """A plugin named for ``--plugin`` that provides several models: which one runs, and the others."""
    models = reg.plugins[asked].provides.get("models", []) if asked in reg.plugins and asked != model else []
    if len(models) > 1:
        others = ", ".join(m for m in models if m != model)
        print(f"plugin {asked!r} provides {len(models)} models; running {model!r} (its first). Pick another with "
              f"--plugin MODEL: {others}")


def cmd_eval(args) -> int:
    from .distributed import init_from_env, is_main, rank_results
    from .runner import evaluate_checkpoint

    device = init_from_env(args.device)
    reg = _registry()
    outcome = evaluate_checkpoint(args.checkpoint, args.metrics, results=rank_results(args.results), device=device,
                                  model=args.plugin, dataset=args.dataset, data_root=args.data_root,
                                  budget=args.budget, reg=reg, max_test_examples=args.max_test_examples,
                                  options={**key_values(args.metric_option), **_metric_options(args)})
    if is_main():
        _print_row(outcome, reg)
    return 0


def _print_row(outcome, reg) -> None:
    from .console import run_row

    print(run_row(outcome, reg))


def cmd_plugins(args) -> int:
    from .console import plugins_table

    print(plugins_table(_registry()))
    return 0


def cmd_list(args) -> int:
    from .console import list_table

    if args.kind == "cells" and not args.protocol:
        raise DgmbenchError("`dgmbench list cells PROTOCOL`: name the protocol (see `dgmbench list protocols`)")
    print(list_table(_registry(), LIST_KINDS[args.kind], args.protocol))
    return 0


def cmd_leaderboard(args) -> int:
    from .sweep import write_leaderboard

    write_leaderboard(_registry(), args.name, args.results, args.budget, args.format, args.output)
    return 0


def cmd_reproduce(args) -> int:
    from .budgets import resolve_budget
    from .executors import settings_from
    from .sweep import reproduce, write_leaderboard, write_provenance

    reg = _registry()
    protocol = reg.get("protocols", args.name)
    budget = resolve_budget(args.budget, overrides=_overrides(args)).name
    data_root = str(Path(args.data_root).resolve()) if args.data_root and args.executor != "local" else args.data_root
    template = _record(args, model="", dataset="", protocol=protocol.name, data_root=data_root)
    failed = reproduce(reg, protocol, template, budget, settings_from(args, args.results), cells=args.cells,
                       seeds=args.seeds, rerun=args.rerun, max_seconds=args.max_seconds, results=args.results,
                       on_outcome=lambda outcome: _print_row(outcome, reg))
    write_leaderboard(reg, args.name, args.results, budget, args.format, args.output)
    if args.output:
        write_provenance(args.output, args.results, budget)
    return 1 if failed else 0


def cmd_report(args) -> int:
    from .paths import results_file
    from .report import build_site

    index = build_site(args.results or [results_file()], args.output, _registry().items["protocols"])
    print(f"wrote {index} (open it in a browser; the folder can be copied anywhere)")
    return 0


def cmd_score_folder(args) -> int:
    from .score_folder import score_folders

    values = score_folders(args.real, args.fake, args.feature_net, dataset=args.dataset, data_root=args.data_root,
                           device=args.device, options=key_values(args.metric_option), reg=_registry())
    from .console import table

    print(table([[k, f"{v:.6g}"] for k, v in values.items()], ["value", f"{args.fake} against {args.real}"]))
    return 0


def cmd_runs(args) -> int:
    from .browse import open_store, runs_table
    from .paths import results_file

    print(runs_table(open_store(results_file(args.results)), args.protocol, args.status, args.last))
    return 0


def cmd_show(args) -> int:
    from .browse import open_store, show_run
    from .paths import results_file

    print(show_run(open_store(results_file(args.results)), args.run))
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
        preflight.check_numbers(args)
        preflight.check_names(args)
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
