"""Which committed measurement of a protocol is its canonical table, and the manifest that makes them.

Layout (``leaderboards/``): every measurement of a protocol lives in
``<protocol>/<device>-<budget>/`` with the same file names -- ``<protocol>.md``, ``<protocol>.csv``,
``results.sqlite``, ``runs/`` and one ``provenance.json`` (commands, budget, date, machine, load
average). ``<protocol>/<protocol>.md`` and ``.csv`` are the canonical table: the best measurement
made, named in the table's first line. "Best" is :func:`rank_key`: a measurement with runs of the
protocol's current version over one whose runs are all stale (an older version's table measures
another protocol), then a sweep that ended over one cut off by a time limit (a GPU call stopped
after a few cells does not hide a whole CPU table), then a GPU measurement over a CPU one, then
more optimizer steps per run, then more cells and runs measured, then the later date.

``leaderboards/manifest.toml`` lists the measurements to (re)make, one ``[[measurement]]`` each::

    [[measurement]]
    protocol = "iwae-table"        # a registered protocol
    device = "cpu"                 # "cpu" or "gpu" (the folder's first word; gpu adds --device cuda)
    budget = "cpu"                 # the named budget passed as --budget
    folder = "cpu-cpu"             # optional: default "<device>-<budget>"
    commands = ["--metric nll"]    # optional: extra arguments of each `dgmbench reproduce` call,
                                   # one string per call (shell words); default: one plain call

Python's ``tomllib`` reads it (no dependency).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DgmbenchError

PROVENANCE = "provenance.json"
DEVICES = ("cpu", "gpu")
CANONICAL_MARK = "Canonical:"


@dataclass(frozen=True)
class Measurement:
    """One committed measurement of a protocol: its folder and what ranks it."""

    protocol: str
    folder: Path
    device: str            # "cpu" or "gpu"
    budget: str            # the budget name as stored (refinements included)
    steps: float = 0.0     # mean optimizer steps per run (the work each cell got)
    runs: int = 0          # measured runs in the results file
    date: str = ""         # ISO date of the last command
    machine: str = ""      # e.g. "NVIDIA H200" or "x86_64, cpu, 2 cores"
    cells: int = 0         # distinct cells with a measured run
    cut_off: str = ""      # why the sweep stopped early, when it did (provenance "cut_off")


def rank_key(m: Measurement) -> tuple:
    """The order of "best": runs of the current protocol version, not cut off, GPU over CPU, more work
    (steps per run), more cells, more runs, later."""
    return (m.runs > 0, not m.cut_off, m.device == "gpu", m.steps, m.cells, m.runs, m.date)


@functools.cache
def _registered_versions() -> dict[str, str]:
    from .plugins import load_registry

    reg = load_registry()
    return {name: str(reg.get("protocols", name).version) for name in reg.items["protocols"]}


def current_version(protocol: str) -> str | None:
    """The registered protocol's version, or None when no installed plugin registers it (then every
    run counts)."""
    return _registered_versions().get(protocol)


def choose(measurements: list[Measurement]) -> Measurement | None:
    """The canonical measurement: the largest :func:`rank_key` (None when there is none)."""
    return max(measurements, key=rank_key, default=None)


def budget_label(budget: str) -> str:
    """A folder-friendly budget name: ``cpu`` stays ``cpu``; ``quick[max_steps=200,...]`` becomes
    ``quick-200steps``; other refinements ``<name>-reduced``."""
    base, _, refinements = budget.partition("[")
    if not refinements:
        return base
    steps = re.search(r"(?:^|,)max_steps=(\d+)", refinements.rstrip("]"))
    return f"{base}-{steps.group(1)}steps" if steps else f"{base}-reduced"


def folder_name(device: str, budget: str) -> str:
    if device not in DEVICES:
        raise DgmbenchError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    return f"{device}-{budget_label(budget)}"


def read_provenance(folder: Path) -> dict:
    path = Path(folder) / PROVENANCE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DgmbenchError(f"{path}: no readable provenance ({type(exc).__name__})") from None


def _store_facts(results: Path, protocol: str, budget: str, version: str | None) -> tuple[float, int, int]:
    """(mean steps per counted run, counted runs, distinct cells) of one protocol and budget, read-only;
    with ``version``, only the runs of that protocol version count."""
    if not results.is_file():
        return 0.0, 0, 0
    from .store import COUNTED, readonly_uri

    query = ("SELECT avg(steps), count(*), count(DISTINCT cell) FROM runs "
             f"WHERE protocol = ? AND budget = ? AND status IN ({', '.join('?' * len(COUNTED))})")
    args = [protocol, budget, *COUNTED]
    if version is not None:
        query, args = query + " AND protocol_version = ?", args + [version]
    with closing(sqlite3.connect(readonly_uri(results), uri=True)) as db:
        row = db.execute(query, args).fetchone()
    return float(row[0] or 0.0), int(row[1] or 0), int(row[2] or 0)


def read_measurement(folder: Path, protocol: str, version: str | None = None) -> Measurement:
    """The measurement in ``folder`` (its provenance and results file), counting the runs of protocol
    ``version`` only when given."""
    folder = Path(folder)
    info = read_provenance(folder)
    device = "gpu" if info.get("gpu") or folder.name.startswith("gpu-") else "cpu"
    steps, runs, cells = _store_facts(folder / "results.sqlite", protocol, info.get("budget", ""), version)
    return Measurement(protocol, folder, device, info.get("budget", ""), steps, runs,
                       str(info.get("date", ""))[:10], info.get("gpu") or info.get("machine", ""), cells,
                       str(info.get("cut_off", "")))


def measurements(protocol_dir: Path) -> list[Measurement]:
    """Every measurement folder of a protocol (``<device>-<budget>/`` holding a provenance file), its
    runs counted at the protocol's current version."""
    protocol_dir = Path(protocol_dir)
    version = current_version(protocol_dir.name)
    return [read_measurement(d, protocol_dir.name, version) for d in sorted(protocol_dir.iterdir())
            if d.is_dir() and d.name.split("-")[0] in DEVICES and (d / PROVENANCE).is_file()]


def headline(best: Measurement, others: list[Measurement]) -> str:
    """The canonical table's first line."""
    where = f"{best.device.upper()} ({best.machine})" if best.machine else best.device.upper()
    rest = ", ".join(f"`{m.folder.name}/`" + ("" if m.runs else " (no runs of the current protocol version)")
                     for m in others)
    return (f"{CANONICAL_MARK} measured on {where} under budget `{best.budget}` on {best.date} "
            f"(`{best.folder.name}/`, {best.cells} cells, {best.runs} runs, {best.steps:.0f} steps per run"
            + (f"; the sweep was cut off: {best.cut_off}" if best.cut_off else "") + ")."
            + (f" Other measurements: {rest}." if rest else ""))


def write_canonical(protocol_dir: Path) -> Measurement | None:
    """Copy the best measurement's table to ``<protocol>/<protocol>.md`` (its first line naming it)
    and ``.csv``; returns it, or None when the protocol has no measurement folder yet."""
    protocol_dir = Path(protocol_dir)
    name = protocol_dir.name
    found = measurements(protocol_dir)
    best = choose(found)
    if best is None:
        return None
    table = best.folder / f"{name}.md"
    if not table.is_file():
        raise DgmbenchError(f"{table}: the measurement has no table")
    others = [m for m in sorted(found, key=rank_key, reverse=True) if m is not best]
    (protocol_dir / f"{name}.md").write_text(headline(best, others) + "\n\n" + table.read_text())
    csv = best.folder / f"{name}.csv"
    if csv.is_file():
        (protocol_dir / f"{name}.csv").write_text(csv.read_text())
    return best


def write_index(root: Path) -> Path:
    """``leaderboards/README.md``: one line per protocol -- its canonical budget, device and link."""
    root = Path(root)
    rows = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        found = measurements(d)
        best = choose(found)
        if best is not None:
            rows.append(f"| [{d.name}]({d.name}/{d.name}.md) | [`{best.folder.name}`]({d.name}/{best.folder.name}/) "
                        f"| {best.device} | {best.date} | {len(found)} |")
    text = ("# Leaderboards\n\nOne folder per protocol. `<protocol>/<protocol>.md` (and `.csv`) is the canonical "
            "table: the best measurement made (runs of the protocol's current version, then a sweep that ended "
            "over one cut off, then GPU over CPU, then more steps per run), named in its first "
            "line. Every measurement, canonical or not, lives in `<protocol>/<device>-<budget>/` with the same "
            "file names, its raw `results.sqlite`, its `runs/` and one `provenance.json`. "
            "`python leaderboards/regenerate.py [--device gpu]` re-measures what `manifest.toml` lists (on a quiet "
            "machine: it refuses while the load average exceeds the cores) and rewrites the canonical tables "
            "and this index; `--render` rewrites every table from its raw results with the current code. "
            "`dgmbench report --results leaderboards/*/*/results.sqlite --output leaderboards/site` builds the "
            "browsable site (not committed).\n\n"
            "| protocol | canonical measurement (device-budget) | device | measured | measurements |\n"
            "|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
    path = root / "README.md"
    path.write_text(text)
    return path


def link_duplicate_images(root: Path, suffixes=(".png",)) -> int:
    """Replace every image under ``root`` that is a byte copy of another (the first in sorted path
    order keeps the bytes) by a relative symbolic link to it, so the repository holds each picture
    once; returns how many were linked. Identical work writes identical files: an IWAE with k = 1
    is the VAE, and a budget whose steps equal another's trains the same runs again."""
    first: dict = {}
    linked = 0
    for path in sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in suffixes):
        if path.is_symlink() or not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in first:
            first[digest] = path
            continue
        path.unlink()
        path.symlink_to(os.path.relpath(first[digest], path.parent))
        linked += 1
    return linked


@dataclass
class Entry:
    """One manifest item: a measurement to make."""

    protocol: str
    device: str
    budget: str
    folder: str
    commands: list = field(default_factory=list)

    def argv(self, data_root: str, root: Path) -> list[list[str]]:
        """The `dgmbench reproduce` command lines of this measurement."""
        out = Path(root) / self.protocol / self.folder
        base = ["dgmbench", "reproduce", self.protocol, "--budget", self.budget, "--data-root", data_root,
                "--results", str(out / "results.sqlite"), "--no-progress", "--output", str(out / f"{self.protocol}.md")]
        # the cpu budgets are sized for every core busy (one cell per core), the gpu ones for packing
        base += ["--jobs", "auto"] + (["--device", "cuda"] if self.device == "gpu" else [])
        return [base + shlex.split(extra) for extra in (self.commands or [""])]


def load_manifest(path: Path) -> list[Entry]:
    """The manifest's entries, checked: one clear line naming the file and the item on a mistake."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DgmbenchError(f"{path}: {exc}") from None
    entries, seen = [], set()
    for i, item in enumerate(data.get("measurement", []), 1):
        missing = [k for k in ("protocol", "device", "budget") if not isinstance(item.get(k), str)]
        unknown = set(item) - {"protocol", "device", "budget", "folder", "commands"}
        if missing or unknown:
            raise DgmbenchError(f"{path}: measurement {i} " + (f"lacks {', '.join(missing)}" if missing
                                                               else f"has unknown keys {', '.join(sorted(unknown))}"))
        if item["device"] not in DEVICES:
            raise DgmbenchError(f"{path}: measurement {i} ({item['protocol']}): device {item['device']!r} is not "
                                f"one of {', '.join(DEVICES)}")
        commands = item.get("commands", [])
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            raise DgmbenchError(f"{path}: measurement {i} ({item['protocol']}): commands must be a list of strings")
        folder = item.get("folder") or folder_name(item["device"], item["budget"])
        if (item["protocol"], folder) in seen:
            raise DgmbenchError(f"{path}: measurement {i}: {item['protocol']}/{folder} is listed twice")
        seen.add((item["protocol"], folder))
        entries.append(Entry(item["protocol"], item["device"], item["budget"], folder, commands))
    return entries


def load_check(force: bool = False) -> tuple[float, float, float]:
    """The load averages; refuses (DgmbenchError) while the 1-minute one exceeds the core count,
    unless ``force``: a table measured on a busy machine times its cells wrongly and, on a shared
    CPU, cuts nothing but takes hours."""
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    if load[0] > cores and not force:
        raise DgmbenchError(f"the 1-minute load average is {load[0]:.2f} on {cores} cores: measure on a quiet "
                            "machine (or pass --force; the load is recorded in the provenance)")
    return load
