"""What the commands print: terminal tables, a run's result row, and the listings of
``dgmbench plugins`` and ``dgmbench list``. Nothing here imports torch."""
from __future__ import annotations

import os
import shutil
import sys

#: widest table when the output is not a terminal and ``$COLUMNS`` is unset (a pipe, a file)
PIPE_WIDTH = 120


def table(rows, headers, fit: bool = False) -> str:
    """A terminal table; with ``fit`` the widest columns wrap until it fits the width: ``$COLUMNS``,
    else the terminal's, else :data:`PIPE_WIDTH` (so piped listings stay readable too)."""
    from tabulate import tabulate

    widths = None
    if fit and rows:
        # tabulate pads a header by two spaces
        widths = [max(len(h) + 2, *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
        tty = sys.stdout.isatty() or "COLUMNS" in os.environ
        total = shutil.get_terminal_size((PIPE_WIDTH, 24)).columns if tty else PIPE_WIDTH
        room = total - 2 * (len(headers) - 1) - 1
        while sum(widths) > room and max(widths) > 10:
            widths[widths.index(max(widths))] -= 1
    return tabulate(rows, headers=headers, tablefmt="simple", maxcolwidths=widths)


def _paper_values(outcome, reg, shown: set) -> dict:
    """The paper's values for the run's cell, for the measured values shown under the same name
    (a sample metric only when it was measured with the paper's feature network)."""
    from .leaderboard import joins, reference_table

    protocol = reg.get("protocols", outcome.record.protocol)
    cell = protocol.cell(outcome.record.cell)
    out = {}
    for _, r in reference_table(protocol).iterrows():
        if joins(r, cell):
            out.update({f"{col} (paper)": r[col] for ours, col in protocol.columns.items() if ours in shown})
    return out


def sample_value_names(metrics) -> set:
    """Names of the values measured through a feature network (``fid``, ``kid_std``...)."""
    from .leaderboard import SAMPLE_VALUES

    return {k for k in metrics if k.split("_")[0] in SAMPLE_VALUES}


def run_row(outcome, reg) -> str:
    """The run's leaderboard row (sample metrics tagged with their feature network), beside the
    paper's value where the protocol has one, and where its files are."""
    row = {"model": outcome.record.model, "dataset": outcome.record.dataset,
           "budget": outcome.budget, "seed": outcome.record.seed}
    net = outcome.record.options.get("feature_net") or "inception"
    tagged = sample_value_names(outcome.metrics)
    row.update({(f"{k} [{net}]" if k in tagged else k): round(v, 4) for k, v in outcome.metrics.items()})
    row["wall s"] = round(outcome.wall_time_s, 1)
    if outcome.train_images_per_s:
        row["train img/s"] = round(outcome.train_images_per_s, 1)
    if outcome.record.protocol not in ("default", None) and outcome.record.cell:
        row.update(_paper_values(outcome, reg, set(row)))
    lines = [table([list(row.values())], list(row.keys()))]
    if getattr(outcome, "stopped", ""):
        lines.append(f"truncated: {outcome.stopped}")
    if outcome.out_dir is None:  # an evaluation: no training, so no samples, curves or checkpoint
        lines.append(f"run {outcome.run_id} stored (evaluation only; `dgmbench show {outcome.run_id}` lists it)")
    else:
        written = [name for name, file in (("samples", "samples.png"), ("curves", "curves.png"),
                                           ("checkpoint", "checkpoint.pt")) if (outcome.out_dir / file).exists()]
        where = f"; {', '.join(written)} in {outcome.out_dir}" if written else f"; run folder {outcome.out_dir}"
        lines.append(f"run {outcome.run_id} stored{where}")
    return "\n".join(lines)


def _summary(names, kind: str, shown: int = 6) -> str:
    """The first few names, and how many in all where there are more (``dgmbench list`` has them all)."""
    names = list(dict.fromkeys(names))
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])}... ({len(names)}; dgmbench list {kind.replace('_', '-')})"


def plugins_table(reg) -> str:
    rows = []
    for name, info in sorted(reg.plugins.items()):
        provides = "; ".join(f"{kind}: {_summary(names, kind)}" for kind, names in info.provides.items())
        status = f"BROKEN: {reg.failures[name]}" if name in reg.failures else provides
        rows.append([name, info.version, info.distribution, status])
    return table(rows, ["plugin", "version", "distribution", "provides"], fit=True)


HEADERS = {"models": ["model", "plugin", "capabilities", "description"],
           "datasets": ["dataset", "shape", "levels", "description"],
           "metrics": ["metric", "needs", "description"],
           "protocols": ["protocol", "version", "cells", "budgets", "metrics", "description"],
           "feature_networks": ["feature network", "plugin", "description"],
           "cells": ["cell", "model", "dataset", "config"]}


def list_table(reg, kind: str, protocol: str | None = None) -> str:
    """``dgmbench list KIND`` (``cells`` lists one protocol's cells)."""
    if kind == "cells":
        spec = reg.get("protocols", protocol)
        rows = [[c.key, c.model, c.dataset, ", ".join(f"{k}={v}" for k, v in c.config.items()) or "-"]
                for c in spec.cells]
        return f"{table(rows, HEADERS[kind], fit=True)}\n\n{budgets_table(spec)}"
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
            rows.append([name, spec.version, len(spec.cells), ", ".join(_own_budgets(spec)) or "-",
                         ", ".join(spec.metrics), spec.description])
        else:
            rows.append([name, spec.plugin, spec.description])
    if kind == "datasets":
        rows.append(["imagefolder:PATH", "(the images')", 256, "your images, PATH/<class>/*.png (or PATH/train, "
                     "PATH/test; else split 90/10)"])
    return table(rows, HEADERS[kind], fit=True)


def _own_budgets(protocol) -> list[str]:
    """The budgets ``protocol`` sizes itself, in the harness's order (smoke... full)."""
    from .budgets import BUDGETS

    return [n for n in BUDGETS if n in protocol.budgets] + [n for n in protocol.budgets if n not in BUDGETS]


def budgets_table(protocol) -> str:
    """Every harness budget as ``protocol`` resolves it (``--budget NAME``): its work (steps, else
    epochs, of a batch size) and its note."""
    from .budgets import BUDGETS, resolve_budget

    rows = []
    for name in BUDGETS:
        b = resolve_budget(name, protocol.budgets)
        work = f"{b.max_steps:,} steps" if b.max_steps else f"{b.epochs} epoch{'s' * (b.epochs != 1)}"
        rows.append([name, f"{work}, batch {b.batch_size}", b.note or "-"])
    return table(rows, ["budget", "work", "note"], fit=True)
