"""``dgmbench report``: a static HTML site of one or more results files.

An index of the leaderboards found in the files, one page per leaderboard (our values beside
the paper's, the caption with its claim verdicts, partial and truncated cells marked, each cell
linking to the runs that measured it) and one page per run (config, budget, versions, device,
wall time, metric values and the images the run left: sample grid, curves, traversals).

Jinja2 renders the pages with autoescaping on, so a model name or a config value holding markup
is shown as text. There is no JavaScript; every link is relative, so the folder works from
``file://`` and can be copied anywhere (the images are copied beside the pages).
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from . import leaderboard
from .store import COUNTED, Store

#: run statuses whose numbers a leaderboard shows; the last two are marked in their cell
SHOWN = COUNTED
MARKED = {"partial": "a metric failed; the others are shown", "truncated": "stopped by --max-seconds"}
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("dgmbench", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["value"] = leaderboard.format_value
    return env


def _num(value, digits: int = 3) -> str:
    """A number for a table cell ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))


def run_folder(run, results: Path) -> Path | None:
    """Where a run's files are: its stored ``out_dir`` (absolute, or relative to the working
    directory it ran in), else ``runs/<name>`` beside the results file (a moved folder)."""
    if not isinstance(run.out_dir, str) or not run.out_dir:
        return None
    out = Path(run.out_dir)
    for candidate in (out, results.parent / "runs" / out.name, results.parent / out):
        if candidate.is_dir():
            return candidate
    return None


@dataclass
class Board:
    """One leaderboard page: a protocol's table for one budget from one results file."""

    slug: str
    protocol: object
    results: Path
    budget: str
    caption: str
    claims: list = field(default_factory=list)
    headers: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    n_runs: int = 0
    superseded: str = ""
    devices: list = field(default_factory=list)


def _board(protocol, store: Store, runs: pd.DataFrame, slug: str, results: Path) -> Board | None:
    """The table of ``leaderboard.build`` as header and row lists, with each cell's runs."""
    _, facts = leaderboard.measured(protocol, store)
    if not facts["budget"]:
        return None
    df, caption = leaderboard.build(protocol, store, facts["budget"])
    claims = df.attrs.get("claims", [])  # the verdicts (on trained cells), listed apart
    for claim in claims:
        caption = caption.replace(" " + claim, "")
    mine = runs[(runs.protocol == protocol.name) & (runs.protocol_version == protocol.version)
                & (runs.budget == facts["budget"]) & runs.status.isin(SHOWN)]
    shown = leaderboard._display(df)  # the md/LaTeX cell texts: mean ± std (n), truncation mark, paper digits
    labels = [c for c in shown.columns if not c.endswith(("(paper)", "(ours)"))]
    paper = [c for c in shown.columns if c.endswith("(paper)")]
    ours = [c for c in shown.columns if c.endswith("(ours)")]
    rows = []
    for i, cell in enumerate(df["cell"]):
        cell_runs = mine[mine.cell == cell] if isinstance(cell, str) else mine.iloc[0:0]
        rows.append({
            "labels": [shown[c].iloc[i] for c in labels],
            "paper": [shown[c].iloc[i] for c in paper],
            "ours": [shown[c].iloc[i] for c in ours],
            "runs": [{"id": x.run_id, "seed": x.seed, "status": x.status, "why": MARKED.get(x.status, "")}
                     for x in cell_runs.itertuples()],
        })
    return Board(slug, protocol, results, facts["budget"], caption, claims, [labels, paper, ours], rows,
                 len(mine), devices=list(facts["devices"]))


def _run_page(run, metrics: pd.DataFrame, results: Path, site: Path) -> dict:
    """A run's page context; its images are copied to ``runs/<run_id>/``."""
    folder = run_folder(run, results)
    images = []
    if folder is not None:
        for img in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGES):
            dest = site / "runs" / run.run_id / img.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(img, dest)
            images.append({"src": f"{run.run_id}/{img.name}", "name": img.stem.replace("_", " ")})
    try:
        config = json.loads(run.config or "{}")
    except ValueError:
        config = {"config": run.config}
    try:
        libraries = json.loads(run.libraries or "{}")
    except (TypeError, ValueError):
        libraries = {}
    facts = [("run", run.run_id), ("status", run.status), ("error", run.error), ("model", run.model),
             ("plugin", f"{run.plugin or ''} {run.plugin_version or ''}".strip()), ("dataset", run.dataset),
             ("protocol", f"{run.protocol} v{run.protocol_version}" if run.protocol != "default" else "ad hoc"),
             ("cell", run.cell), ("budget", run.budget), ("seed", run.seed), ("device", run.device),
             ("started", _date(run.created)), ("wall time", _seconds(run.wall_time_s)),
             ("training time", _seconds(run.train_time_s)), ("epochs", _int(run.epochs)), ("steps", _int(run.steps)),
             ("train images/s", _num(run.train_images_per_s, 1)),
             ("peak memory", f"{run.peak_memory_bytes / 2**20:.0f} MiB" if _real(run.peak_memory_bytes) else None),
             ("examples", f"{run.n_train} train, {run.n_test} test" if _real(run.n_test) else None),
             ("data note", run.data_note), ("code", run.code_version), ("results file", str(results)),
             ("output folder", run.out_dir)]
    m = metrics[metrics.run_id == run.run_id]
    return {"run": run, "facts": [(k, v) for k, v in facts if v is not None and v == v and v != ""],
            "config": sorted(config.items()), "libraries": sorted(libraries.items()), "images": images,
            "metrics": [(x.metric, x.name, x.value, x.feature_net if isinstance(x.feature_net, str) else "")
                        for x in m.itertuples()]}


def _int(v) -> int | None:
    return int(v) if _real(v) else None


def _real(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _seconds(v) -> str | None:
    return f"{v:.1f} s" if _real(v) else None


def _date(t) -> str:
    return pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M UTC")


def build_site(results: list[Path], output: Path, protocols: dict) -> Path:
    """Write the site for ``results`` (results files) into ``output``; returns the index page.
    ``protocols`` maps names to the registered :class:`~dgmbench.specs.ProtocolSpec`. A file that is a
    byte-for-byte copy of one already given (one results file kept in several folders) is read once."""
    env = _env()
    stores = [(Path(path), Store(path, readonly=True)) for path in results]  # a missing file fails before any write
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path, _ in stores]
    stores = [s for i, s in enumerate(stores) if digests[i] not in digests[:i]]
    results = [path for path, _ in stores]
    output.mkdir(parents=True, exist_ok=True)
    (output / "runs").mkdir(exist_ok=True)
    boards, all_runs, seen, on_board = [], [], set(), {}
    for path, store in stores:  # read-only: a results file stays byte for byte as it was
        runs, metrics = store.runs(), store.metrics()
        versions = runs[runs.protocol != "default"][["protocol", "protocol_version"]].drop_duplicates()
        for name, version in sorted(versions.itertuples(index=False), key=lambda t: (t[0], str(t[1]))):
            if name not in protocols:
                continue
            current = protocols[name]
            # an older version's runs keep their own page, marked superseded (its cells and
            # reference are the current spec's: a version bump changes how numbers are made)
            protocol = current if str(version) == str(current.version) else replace(current, version=str(version))
            slug = _slug(name if protocol is current else f"{name}-v{version}")
            while slug in seen:  # the same protocol in two results files
                slug += "-2"
            board = _board(protocol, store, runs, slug, Path(path))
            if board is not None:
                board.superseded = "" if protocol is current else f"superseded by v{current.version}"
                seen.add(slug)
                boards.append(board)
                on_board.update({r["id"]: board for row in board.rows for r in row["runs"]})
        for run in runs.itertuples():
            page = _run_page(run, metrics, path, output)
            page["board"] = on_board.get(run.run_id)
            (output / "runs" / f"{run.run_id}.html").write_text(env.get_template("run.html").render(**page))
            all_runs.append(run)
    for board in boards:
        (output / f"{board.slug}.html").write_text(env.get_template("leaderboard.html").render(board=board))
    index = output / "index.html"
    index.write_text(env.get_template("index.html").render(boards=boards, runs=all_runs, results=results,
                                                          date=_date))
    return index
