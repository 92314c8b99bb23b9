"""``dgmbench runs`` and ``dgmbench show``: the results store in the terminal.

``runs`` lists stored runs (protocol cells and ad-hoc runs alike), newest last, with their
headline values; ``show RUN`` prints one run's facts, config, metric values and files. A run is
named by its id, a unique prefix of it, or its output folder's name.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from .errors import DgmbenchError
from .store import Store

#: the values worth a column in the runs list, when a run has them
HEADLINE = ("bpd", "nll", "elbo", "fid", "is", "kid", "active_units", "accuracy")


def _width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def _table(rows, headers, wrap: int | None = None) -> str:
    """A terminal table; ``wrap``: the last column wraps to what is left of the terminal width."""
    from tabulate import tabulate

    widths = None
    if wrap is not None and rows:
        widths = [None] * (len(headers) - 1) + [max(20, _width() - wrap)]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True, maxcolwidths=widths)


def open_store(path: Path) -> Store:
    if not Path(path).is_file():
        raise DgmbenchError(f"no results file at {path} (run something first, or pass --results FILE)")
    return Store(path, readonly=True)  # listing never writes


def _when(t) -> str:
    return pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M")


def _value(v, name: str = "") -> str:
    """A value for the terminal: a flag as yes / no, a count as an integer (never 4.642e+05), a
    measurement to 4 significant digits."""
    from .leaderboard import COUNTS, FLAGS, format_value

    if name in FLAGS or name in COUNTS:
        return format_value(name, v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def runs_table(store: Store, protocol: str | None = None, status: str | None = None, last: int | None = None) -> str:
    """The stored runs as a terminal table, oldest first (``last``: only the newest N)."""
    runs = store.runs()
    if protocol:
        runs = runs[runs.protocol == protocol]
    if status:
        runs = runs[runs.status == status]
    if last:
        runs = runs.tail(last)
    if runs.empty:
        return "no runs" + (" match" if protocol or status else " stored yet")
    metrics = store.metrics()
    metrics = metrics[metrics.run_id.isin(runs.run_id) & metrics.name.isin(HEADLINE)]
    values = {run_id: "  ".join(f"{n}={_value(v, n)}" for n, v in zip(g.name, g.value))
              for run_id, g in metrics.drop_duplicates(["run_id", "name"], keep="last").groupby("run_id")}
    rows = [[r.run_id, _when(r.created), r.status, r.protocol if r.protocol != "default" else "-",
             r.cell if isinstance(r.cell, str) else "", r.model, r.dataset, r.budget, r.seed,
             "" if pd.isna(r.wall_time_s) else f"{r.wall_time_s:.1f}", values.get(r.run_id, "")]
            for r in runs.itertuples()]
    headers = ["run", "started", "status", "protocol", "cell", "model", "dataset", "budget", "seed", "wall s",
               "values"]
    return _table(_fit(rows, headers), headers)


def _fit(rows: list, headers: list) -> list:
    """Long texts (budgets, values) cut so that the table fits the terminal."""
    width = _width()
    for col in (7, 10):  # the budget's refinements, then the values
        widths = [max(len(str(x)) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(headers)]
        over = sum(widths) + 2 * (len(headers) - 1) - width
        if over > 0:
            keep = max(12, widths[col] - over)
            rows = [[*r[:col], _cut(str(r[col]), keep), *r[col + 1:]] for r in rows]
    return rows


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def find_run(store: Store, name: str):
    """The run named by an id, a unique id prefix, or its output folder's name."""
    runs = store.runs()
    hits = runs[(runs.run_id == name) | runs.out_dir.fillna("").map(lambda p: Path(p).name == name)]
    if hits.empty:
        hits = runs[runs.run_id.str.startswith(name)]
    if len(hits) == 1:
        return hits.iloc[0]
    if hits.empty:
        raise DgmbenchError(f"no run {name!r} in {store.path} (`dgmbench runs` lists them)")
    raise DgmbenchError(f"{name!r} names {len(hits)} runs ({', '.join(hits.run_id[:5])}); give more of the id")


def show_run(store: Store, name: str) -> str:
    """One run: its facts, config, metric values and files, as terminal tables."""
    run = find_run(store, name)
    facts = [("run", run.run_id), ("status", run.status), ("error", run.error), ("model", run.model),
             ("plugin", f"{run.plugin or ''} {run.plugin_version or ''}".strip()), ("dataset", run.dataset),
             ("protocol", f"{run.protocol} v{run.protocol_version}" if run.protocol != "default" else "- (ad hoc)"),
             ("cell", run.cell), ("budget", run.budget), ("seed", run.seed), ("device", run.device),
             ("started", _when(run.created)), ("wall time s", run.wall_time_s), ("epochs", run.epochs),
             ("steps", run.steps), ("train images/s", run.train_images_per_s),
             ("examples", f"{run.n_train} train, {run.n_test} test"), ("data note", run.data_note),
             ("code", run.code_version), ("output folder", run.out_dir)]
    out = [_table([(k, _value(v)) for k, v in facts if v is not None and not pd.isna(v) and v != ""],
                  ["field", "value"], wrap=18)]
    config = json.loads(run.config or "{}")
    out.append(_table(sorted((k, json.dumps(v)) for k, v in config.items()), ["config", "value"])
               if config else "config: none (the model reads no config keys)")
    metrics = store.metrics()
    metrics = metrics[metrics.run_id == run.run_id]
    out.append(_table([(m.metric, m.name, _value(m.value, m.name),
                        m.feature_net if isinstance(m.feature_net, str) else "")
                       for m in metrics.itertuples()],
                      ["metric", "value", "", "feature net"]) if len(metrics) else "no metric values stored")
    folder = Path(run.out_dir) if isinstance(run.out_dir, str) and run.out_dir else None
    if folder is not None and folder.is_dir():
        out.append(_table([(p.name, f"{p.stat().st_size / 1024:.1f} KiB") for p in sorted(folder.iterdir())
                           if p.is_file()], ["file", "size"]))
    return "\n\n".join(out)
