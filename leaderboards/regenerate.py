"""Re-measure the leaderboards that manifest.toml lists, then rewrite the canonical tables and the index.

    python leaderboards/regenerate.py [--device cpu|gpu] [--force] [--dry-run] [--index-only] [--render]
                                      [PROTOCOL ...]

Run from the repository root. Each measurement goes to leaderboards/<protocol>/<device>-<budget>/
(results.sqlite, runs/, <protocol>.md and .csv, provenance.json). Cells already in a results file under
the same budget are skipped (reproduce's own rule). Refuses to start a table while the 1-minute load
average exceeds the core count (--force overrides); the load before and after each table is recorded
in its provenance.json. --index-only rewrites leaderboards/<protocol>/<protocol>.md and README.md
from the measurements already committed and links every image that is a byte copy of another to
it (each picture is stored once); --render first rewrites every measurement's table (md and
csv) from its results.sqlite with the current code (captions, claim checks; nothing is trained).
Data root: $DGMBENCH_DATA, else ../shared/data.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from dgmbench.canonical import (
    PROVENANCE,
    link_duplicate_images,
    load_check,
    load_manifest,
    write_canonical,
    write_index,
)
from dgmbench.errors import DgmbenchError

ROOT = Path(os.path.relpath(Path(__file__).resolve().parent))  # relative: stored run folders stay portable


def measure(entry, data_root: str, force: bool, dry_run: bool) -> int:
    folder = ROOT / entry.protocol / entry.folder
    commands = entry.argv(data_root, ROOT)
    if dry_run:
        for argv in commands:
            print(" ".join(argv))
        return 0
    before = load_check(force)
    folder.mkdir(parents=True, exist_ok=True)
    written = folder / f"{entry.protocol}.md.provenance.json"   # where `reproduce --output` writes it
    ours = folder / PROVENANCE
    if ours.is_file():
        ours.replace(written)                                    # so that reproduce appends its commands
    failed = 0
    for argv in commands:
        print("+", " ".join(argv), flush=True)
        failed += subprocess.call(argv) != 0
    subprocess.call(["dgmbench", "leaderboard", entry.protocol, "--results", str(folder / "results.sqlite"),
                     "--format", "csv", "--output", str(folder / f"{entry.protocol}.csv")])
    if written.is_file():
        info = json.loads(written.read_text())
        info["load_average"] = {"before": [round(x, 2) for x in before],
                                "after": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
        ours.write_text(json.dumps(info, indent=2) + "\n")
        written.unlink()
    return failed


def render(protocols) -> None:
    """Rewrite each measurement's <protocol>.md and .csv from its raw results (read-only)."""
    from dgmbench import leaderboard
    from dgmbench.canonical import measurements
    from dgmbench.plugins import load_registry
    from dgmbench.store import Store

    reg = load_registry()
    for d in sorted(x for x in ROOT.iterdir() if x.is_dir() and (not protocols or x.name in protocols)):
        if d.name not in reg.items["protocols"]:
            continue
        spec = reg.get("protocols", d.name)
        for m in measurements(d):
            df, caption = leaderboard.build(spec, Store(m.folder / "results.sqlite", readonly=True), m.budget)
            (m.folder / f"{d.name}.md").write_text(leaderboard.export(df, caption, "md"))
            (m.folder / f"{d.name}.csv").write_text(leaderboard.export(df, caption, "csv"))
            print(f"rendered {m.folder}/{d.name}.md")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("protocols", nargs="*", help="only these protocols (default: every one in the manifest)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="the manifest's items for this device")
    p.add_argument("--manifest", type=Path, default=ROOT / "manifest.toml")
    p.add_argument("--force", action="store_true", help="measure even while the machine is busy")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("--index-only", action="store_true", help="rewrite the canonical tables and the index only")
    p.add_argument("--render", action="store_true",
                   help="rewrite every measurement's table from its results file first (implies --index-only)")
    args = p.parse_args(argv)
    try:
        entries = [e for e in load_manifest(args.manifest) if e.device == args.device
                   and (not args.protocols or e.protocol in args.protocols)]
        known = {e.protocol for e in load_manifest(args.manifest)} | {d.name for d in ROOT.iterdir() if d.is_dir()}
        unknown = set(args.protocols) - known
        if unknown:
            raise DgmbenchError(f"{args.manifest} lists no measurement of {', '.join(sorted(unknown))}")
        failed = 0
        if args.render:
            render(args.protocols)
        elif not args.index_only:
            data_root = os.environ.get("DGMBENCH_DATA", "../shared/data")
            for entry in entries:
                failed += measure(entry, data_root, args.force, args.dry_run)
        if not args.dry_run:
            for d in sorted(x for x in ROOT.iterdir() if x.is_dir()):
                best = write_canonical(d)
                if best is not None:
                    print(f"{d.name}: canonical {best.folder.name}/")
            write_index(ROOT)
            linked = link_duplicate_images(ROOT)
            if linked:
                print(f"linked {linked} images that were byte copies of others")
    except DgmbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
