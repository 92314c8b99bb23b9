"""Leaderboards: a view of the results store beside a protocol's reference ("paper") values.

Measured values are the mean and standard deviation over seeds of the runs of one protocol
version and one budget (never mixed); sample metrics carry their feature network in the column
name (``fid [domain]``), so numbers from two networks never share a column.
"""
from __future__ import annotations

import json
import math
import re
from importlib import resources
from pathlib import Path

import pandas as pd

from . import trained
from .errors import DgmbenchError
from .specs import ProtocolSpec, resolve
from .store import COUNTED, Store

#: sample-quality values shown whenever measured, tagged with their feature network
SAMPLE_VALUES = ("fid", "is", "kid", "precision", "recall")
FORMATS = ("md", "csv", "json", "latex")
#: the mark of a value measured on truncated runs (explained in the caption)
TRUNCATED = "†"
#: 0/1 values that say what a number is (a bound or not): shown as yes / no, never averaged
FLAGS = ("nll_is_bound",)
#: values that count things: an integer when every seed counted alike (never "464154.000")
COUNTS = ("parameters", "modes", "mode_samples", "active_units", "active_units_layer1", "active_units_layer2",
          "active_dims")


def reference_table(protocol: ProtocolSpec) -> pd.DataFrame:
    """The reference CSV: a path, or a file name shipped in ``dgmbench/references/``."""
    if not protocol.reference:
        return pd.DataFrame()
    path = Path(protocol.reference)
    if not path.is_file():
        path = Path(str(resources.files("dgmbench") / "references" / protocol.reference))
    df = pd.read_csv(path)
    text = pd.read_csv(path, dtype=str, keep_default_na=False)  # as written: 4.00 keeps its two decimals
    df.attrs["decimals"] = {c: max((len(v.partition(".")[2]) for v in text[c] if _is_number(v)), default=0)
                            for c in text.columns}
    return df


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return b is None or (isinstance(b, float) and math.isnan(b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


def joins(row, cell) -> bool:
    """Whether a reference-table row is the one a protocol cell's labels name."""
    return bool(cell.labels) and all(k in row and _same(row[k], v) for k, v in cell.labels.items())


def measured(protocol: ProtocolSpec, store: Store | None, budget: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Per (cell, value column): mean, std, n over seeds; plus provenance facts for the caption."""
    facts = {"budget": budget, "devices": [], "runs": 0, "dates": [], "feature_nets": {}}
    if store is None:
        return pd.DataFrame(), facts
    m = store.metrics()
    m = m[(m.protocol == protocol.name) & (m.protocol_version == protocol.version)
          & (m.status.isin(COUNTED))]
    if budget is None and len(m):
        budget = m.sort_values("created").budget.iloc[-1]  # the latest budget, never a mix
    m = m[m.budget == budget]
    nets = m[m.name == "feature_net_accuracy"].groupby(["feature_net", "dataset"]).value.mean()
    facts["feature_nets"] = {(net, ds): float(v) for (net, ds), v in nets.items()}  # one per dataset
    weak = trained.weak_feature_nets(facts["feature_nets"])
    wanted = set(protocol.columns) | set(protocol.values) | set(SAMPLE_VALUES)
    refused = m.name.isin(SAMPLE_VALUES) & pd.Series([(fn, ds) in weak for fn, ds in zip(m.feature_net, m.dataset)],
                                                      index=m.index, dtype=bool)
    m = m[m.name.isin(wanted) & ~refused].copy()
    if m.empty:
        facts["budget"] = budget
        return pd.DataFrame(), facts
    m["column"] = [f"{n} [{fn}]" if isinstance(fn, str) and fn else n for n, fn in zip(m.name, m.feature_net)]
    m = m.sort_values("created").drop_duplicates(["cell", "column", "seed"], keep="last")  # a rerun replaces
    runs = store.runs()
    stopped = set(runs.run_id[runs.stopped.notna()]) if "stopped" in runs else set()
    m["truncated"] = m.run_id.isin(stopped) | (m.status == "truncated")
    runs_by_cell = {cell: sorted(set(g.run_id)) for cell, g in m.groupby("cell")}
    run_why = trained.untrained_runs(m, store.history(), _expected_plateaus(protocol))
    facts["untrained"], facts["partly_trained"] = trained.untrained_cells(run_why, runs_by_cell)
    left_out = m.run_id.isin(set(run_why)) & m.cell.isin(set(facts["partly_trained"]))
    stats = m[~left_out].groupby(["cell", "column"]).agg(
        mean=("value", "mean"), std=("value", "std"), count=("value", "count"),
        truncated=("truncated", "sum")).reset_index()
    facts.update(truncated=int(m[m.truncated].run_id.nunique()), budget=budget,
                 devices=sorted({d for d in m.device if isinstance(d, str)}), runs=m.run_id.nunique(),
                 dates=sorted({pd.Timestamp(t, unit="s").strftime("%Y-%m-%d") for t in m.created}))
    return stats, facts


def _expected_plateaus(protocol: ProtocolSpec) -> set:
    """Cells whose flat held-out curve is the claim itself (the claims function's
    ``expected_plateaus``: posterior collapse's diagonal VAE), not a run that did not train."""
    fn = resolve(protocol.claims) if protocol.claims else None
    return set(getattr(fn, "expected_plateaus", ()))


def _budget_note(protocol: ProtocolSpec, budget: str | None) -> str:
    """The named budget's note (e.g. its fraction of the paper's schedule), '' when it has none."""
    from .budgets import BUDGETS, resolve_budget

    base = (budget or "").partition("[")[0]
    if base not in BUDGETS:
        return ""
    note = resolve_budget(base, protocol.budgets).note
    return f"Budget {base}: {note}{'' if note.endswith('.') else '.'}" if note else ""


def build(protocol: ProtocolSpec, store: Store | None, budget: str | None = None) -> tuple[pd.DataFrame, str]:
    """The leaderboard as a DataFrame (one row per reference row or cell) and its caption."""
    ref = reference_table(protocol)
    stats, facts = measured(protocol, store, budget)
    label_cols = list(dict.fromkeys(k for c in protocol.cells for k in c.labels))
    rows, used = [], set()
    for _, r in ref.iterrows():
        cell = next((c for c in protocol.cells if joins(r, c)), None)
        row = {k: r[k] for k in label_cols if k in r}
        row["cell"] = cell.key if cell else None
        for ours, theirs in protocol.columns.items():
            row[f"{theirs} (paper)"] = r.get(theirs)
        rows.append(row)
        if cell:
            used.add(cell.key)
    for c in protocol.cells:  # cells the reference table has no row for
        if c.key not in used:
            rows.append({**{k: c.labels.get(k) for k in label_cols}, "cell": c.key})
    df = pd.DataFrame(rows)
    named = list(protocol.columns) + [v for v in protocol.values if v not in protocol.columns]
    value_columns = named + sorted(set(stats.column) - set(named)) if len(stats) else named
    for col in value_columns:
        sub = stats[stats.column == col].set_index("cell") if len(stats) else pd.DataFrame()
        df[f"{col} (ours)"] = [sub["mean"].get(c) if c in getattr(sub, "index", []) else None for c in df.cell]
        df[f"{col} (ours) std"] = [sub["std"].get(c) if c in getattr(sub, "index", []) else None for c in df.cell]
        df[f"{col} (ours) seeds"] = [sub["count"].get(c) if c in getattr(sub, "index", []) else None
                                     for c in df.cell]
        df[f"{col} (ours) truncated"] = [int(sub["truncated"].get(c)) if c in getattr(sub, "index", []) else None
                                         for c in df.cell]
    fn = resolve(protocol.claims) if protocol.claims else None
    untrained, partly = facts.get("untrained", {}), facts.get("partly_trained", {})
    if untrained or partly:  # shown as such beside the labels; the claims look at the trained cells only
        df.insert(len(label_cols), "did not train", [untrained.get(c) or partly.get(c, "") for c in df.cell])
    facts_line = (f"Protocol {protocol.name} v{protocol.version}, budget {facts['budget'] or '-'}; "
                  f"{facts['runs']} measured runs" + (f" on {', '.join(facts['devices'])}" if facts["devices"] else "")
                  + (f" ({', '.join(facts['dates'])})" if facts["dates"] else "") + "."
                  + "".join(_feature_net_line(net, ds, acc) for (net, ds), acc in facts["feature_nets"].items())
                  + (f" {len(untrained)} cells did not train (column 'did not train'); the papers' claims are "
                     "checked on the others." if untrained else "")
                  + (f" {len(partly)} cells are the means of their trained runs only (column 'did not train')."
                     if partly else ""))
    df.attrs["paper_decimals"] = {f"{theirs} (paper)": ref.attrs.get("decimals", {}).get(theirs)
                                  for theirs in protocol.columns.values()}
    claims = trained.checked_claims(fn, df, untrained) if fn else []
    df.attrs["claims"] = claims
    if facts.get("truncated"):
        facts_line += (f" {TRUNCATED} marks a value whose runs include truncated ones ({facts['truncated']} runs): "
                       "training stopped before the budget's planned steps (each run's 'stopped' says by what "
                       "and after how many steps).")
    caption = " ".join(x for x in (protocol.caption, facts_line, _budget_note(protocol, facts["budget"]), *claims)
                       if x)
    return df, caption


def _feature_net_line(net: str, dataset: str, accuracy: float) -> str:
    if net != "domain":
        return f" Feature network '{net}' on {dataset}: test accuracy {accuracy:.3f}."
    bar = trained.domain_accuracy_bar(dataset)
    return (f" Feature network 'domain' on {dataset} (a classifier trained by the suite): test accuracy "
            f"{accuracy:.3f}" + (f", below the bar of {bar:.2f}: its FID / IS / KID / precision / recall are "
                                 "refused (not shown)." if accuracy < bar else f" (bar {bar:.2f})."))


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """One 'mean ± std (n)' text column per measured value, for md and LaTeX."""
    out = df.drop(columns=[c for c in df.columns if c.endswith((" std", " seeds", " truncated"))])
    for col in [c for c in out.columns if c.endswith(" (ours)")]:
        mean, std, n = df[col], df[f"{col} std"], df[f"{col} seeds"]
        cut = df[f"{col} truncated"] if f"{col} truncated" in df else [None] * len(df)
        name = col[:-len(" (ours)")]
        out[col] = [
            "" if m is None or pd.isna(m) else
            (_flag(m) if name in FLAGS else _value(m, s, k, count=name in COUNTS))
            + (f" {TRUNCATED}" if t is not None and not pd.isna(t) and t > 0 else "")
            for m, s, k, t in zip(mean, std, n, cut)]
    for col, decimals in df.attrs.get("paper_decimals", {}).items():  # the reference's own precision
        if col in out and decimals is not None:
            out[col] = ["" if v is None or pd.isna(v) else f"{v:.{decimals}f}" if isinstance(v, (int, float)) else v
                        for v in out[col]]
    return out.fillna("").drop(columns=["cell"])


def _value(mean: float, std, n, count: bool = False) -> str:
    """'mean ± std (n=k)' over seeds; a count (:data:`COUNTS`) that every seed counted alike as an
    integer."""
    seeds = int(n) if n is not None and not pd.isna(n) else 1
    same = seeds <= 1 or std is None or pd.isna(std) or std == 0
    if count and same and float(mean).is_integer():
        return f"{int(mean)}" + (f" (n={seeds})" if seeds > 1 else "")
    return f"{mean:.3f}" + (f" ± {std:.3f} (n={seeds})" if seeds > 1 else "")


def format_value(name: str, value, digits: int = 3) -> str:
    """One stored value for a terminal or a page: a flag as yes / no, a count as an integer, any
    other number with ``digits`` decimals ('' when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, (int, float)):
        return str(value)
    if name in FLAGS:
        return _flag(value)
    if name in COUNTS and float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


def _flag(mean: float) -> str:
    """A 0/1 flag over seeds: yes, no, or the share of seeds where it is set."""
    return "yes" if mean == 1 else "no" if mean == 0 else f"mixed ({mean:.0%} of seeds)"


def _align(shown: pd.DataFrame) -> list[str]:
    """Values right-aligned, labels left (numbers are pre-formatted text, so tabulate cannot tell)."""
    return ["right" if c.endswith(("(paper)", "(ours)")) else "left" for c in shown.columns]


def _md_text(value) -> str:
    """Markdown cell or caption text that renders as text and reads as text in a terminal: a ``<``
    that could open a tag (``<b``, ``</``, ``<!``, ``<?``) as ``&lt;``, every other ``<`` and ``>``
    as typed (``k > 1``: no HTML entity where none is needed), a ``|`` kept out of the table's
    columns, one line."""
    return _TAG_OPEN.sub("&lt;", str(value)).replace("|", "\\|").replace("\n", " ")


_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def _latex_text(value) -> str:
    """The caption as LaTeX text (tabulate's latex formats escape the cells the same way)."""
    from tabulate import LATEX_ESCAPE_RULES

    return "".join(LATEX_ESCAPE_RULES.get(ch, ch) for ch in str(value))


def export(df: pd.DataFrame, caption: str, fmt: str) -> str:
    """The table as md / csv / json / latex. Names, labels, config values and captions come from
    plugins and users, so each format escapes what it prints: markup renders as text."""
    from tabulate import tabulate

    if fmt == "md":
        shown = _display(df)
        shown = shown.map(lambda v: _md_text(v) if isinstance(v, str) else v)
        shown.columns = [_md_text(c) for c in shown.columns]
        return f"{_md_text(caption)}\n\n" + tabulate(shown, headers="keys", tablefmt="github", showindex=False,
                                                             disable_numparse=True, colalign=_align(shown)) + "\n"
    if fmt == "csv":
        return df.to_csv(index=False)  # quoted by pandas: commas, quotes and newlines stay inside their field
    if fmt == "json":
        text = json.dumps({"caption": caption, "rows": json.loads(df.to_json(orient="records"))}, indent=2)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
    if fmt == "latex":
        shown = _display(df)
        body = tabulate(shown, headers="keys", tablefmt="latex_booktabs", showindex=False,
                        disable_numparse=True, colalign=_align(shown))  # the text _display wrote, digits kept
        return ("\\begin{table}\n\\centering\n" + body + f"\n\\caption{{{_latex_text(caption)}}}\n"
                "\\end{table}\n")
    raise DgmbenchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
