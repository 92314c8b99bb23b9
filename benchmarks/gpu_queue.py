"""The GPU queue: ``benchmarks/gpu-queue`` lists device commands, most valuable first, each of at most
9 minutes on one H200 and each producing whole tables under ``leaderboards/<protocol>/gpu-<budget>/``.

    python benchmarks/gpu_queue.py list                 what is queued, what is done (and when)
    python benchmarks/gpu_queue.py check                parse the queue; every protocol, budget, cell and
                                                        command line must exist / parse (no training)
    python benchmarks/gpu_queue.py slim | restore       here, around device calls: untrack the committed run
                                                        folders in the index (files stay) / track them again
    python benchmarks/gpu_queue.py stage [ITEM] [--part N]   here: the item's data (part N) into gpu-stage/
                                                        (git-ignored); prints the device call to make
    python benchmarks/gpu_queue.py receive              on the device: keep a staged part for the next call
    python benchmarks/gpu_queue.py run [ITEM]           on the device: run the next item not done (or ITEM)
                                                        and pack its tables into $OUT/<item>.tar.gz
    python benchmarks/gpu_queue.py land TARBALL         here: unpack what came back, mark the item done with
                                                        today's date (not when a step was cut off), rewrite
                                                        the canonical tables and index

A device call carries the tracked tree plus ``carry`` (64 MiB in all) and brings back at most 8
files of 16 MiB from ``$OUT``: hence the data staged compressed (see ``DATA``) and the tables
coming back as one tarball (checkpoints left behind). ``run`` enforces each step's time limit, so
an item ends inside the device tool's 10-minute command limit; a step cut off keeps every finished
cell (``reproduce --jobs`` stores each cell as it ends) and running the item again does the rest.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
QUEUE = ROOT / "benchmarks" / "gpu-queue"
STAGE = ROOT / "gpu-stage"
SHARED = Path(os.environ.get("DGMBENCH_DATA", ROOT.parent / "shared" / "data"))
#: what each data name stages from the shared data root. MNIST and Omniglot travel in the archives
#: they come in (11.6 and 2.9 MB), unpacked on the device. CIFAR-10 (the python batches, 178 MB)
#: travels as is: no lossless form is much smaller (measured on data_batch_1, 31.0 MB: gzip -9 28.4 MB,
#: zstd -12 --long 28.1 MB; the images are noise-like at the byte level), so it is staged in parts
#: over consecutive calls on the warm machine, two batch files per call (see ``parts``)
DATA = {
    "mnist": ("MNIST/raw", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
    "omniglot": ("omniglot-py", ["images_background_small1.zip", "images_background_small2.zip"]),
    "cifar10": ("cifar-10-batches-py", ["batches.meta", "test_batch", "data_batch_1", "data_batch_2",
                                        "data_batch_3", "data_batch_4", "data_batch_5"]),
}
#: the device keeps staged data here between calls while it stays warm (outside the copied tree)
DEVICE_DATA = Path(os.environ.get("DGMBENCH_STAGE_HOME", Path.home() / "dgmbench-data"))
CALL_MIB = 64


def load(path: Path | None = None) -> list[dict]:
    """The queue's items, checked for shape: one clear line naming the item on a mistake."""
    path = path or QUEUE
    try:
        items = tomllib.loads(path.read_text()).get("item", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"error: {path}: {exc}")
    names = set()
    for i, item in enumerate(items, 1):
        where = f"{path}: item {i} ({item.get('name', '?')})"
        for key, kind in (("name", str), ("done", str), ("minutes", (int, float)), ("steps", list)):
            if not isinstance(item.get(key), kind):
                raise SystemExit(f"error: {where}: needs {key}")
        if item["name"] in names:
            raise SystemExit(f"error: {where}: the name is used twice")
        names.add(item["name"])
        if sum(s.get("timeout", 0) for s in item["steps"]) > 540:
            raise SystemExit(f"error: {where}: its steps' time limits add up to more than 9 minutes")
        for s in item["steps"]:
            if not isinstance(s.get("timeout"), int) or ("reproduce" in s) == ("shell" in s):
                raise SystemExit(f"error: {where}: each step has a timeout and either reproduce or shell")
        for d in item.get("data", []):
            if d not in DATA:
                raise SystemExit(f"error: {where}: unknown data {d!r} (known: {', '.join(DATA)})")
    return items


def folder(protocol: str, budget: str) -> Path:
    from dgmbench.canonical import folder_name

    return Path("leaderboards") / protocol / folder_name("gpu", budget)


def reproduce_argv(step: dict, data_root: str, device: str = "cuda") -> tuple[list[str], Path]:
    """The `dgmbench reproduce` command of a step and the table folder it fills."""
    words = shlex.split(step["reproduce"])
    protocol, budget = words[0], words[words.index("--budget") + 1]
    out = folder(protocol, budget)
    argv = ["dgmbench", "reproduce", *words, "--device", device, "--no-progress", "--data-root", data_root,
            "--results", str(out / "results.sqlite"), "--output", str(out / f"{protocol}.md")]
    return argv, out


def pick(items: list[dict], name: str | None) -> dict:
    if name:
        for item in items:
            if item["name"] == name:
                return item
        raise SystemExit(f"error: no queue item named {name!r}")
    for item in items:
        if not item["done"]:
            return item
    raise SystemExit("the queue is done: every item has a date")


def cmd_list(args) -> int:
    for item in load():
        print(f"{item['done'] or 'queued':>10}  {item['name']:<24} {item['minutes']:>4} min  {item.get('about', '')}")
    return 0


def cmd_check(args) -> int:
    """Every reproduce step names a registered protocol, a named budget the protocol refines (or the
    harness has), existing cells, and parses as the real command line does; nothing runs."""
    from dgmbench.budgets import BUDGETS
    from dgmbench.cli import parser
    from dgmbench.plugins import load_registry

    reg, problems, steps = load_registry(), [], 0
    for item in load():
        for step in item["steps"]:
            if "reproduce" not in step:
                continue
            steps += 1
            argv, out = reproduce_argv(step, "gpu-stage/data")
            try:
                ns = parser().parse_args(argv[1:])
            except SystemExit:
                problems.append(f"{item['name']}: does not parse: {step['reproduce']}")
                continue
            protocol = reg.items["protocols"].get(ns.name)
            if protocol is None:
                problems.append(f"{item['name']}: no protocol {ns.name!r}")
                continue
            if ns.budget not in BUDGETS:
                problems.append(f"{item['name']}: {ns.name}: no budget {ns.budget!r}")
            elif ns.budget not in protocol.budgets:
                problems.append(f"{item['name']}: {ns.name} does not size the budget {ns.budget!r}")
            for cell in ns.cells or []:
                if cell not in {c.key for c in protocol.cells}:
                    problems.append(f"{item['name']}: {ns.name} has no cell {cell!r}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"{QUEUE.name}: {len(load())} items, {steps} reproduce steps" + (" ok" if not problems else ""))
    return 1 if problems else 0


def tree_bytes() -> int:
    """Bytes a device call carries besides ``carry``: tracked files and untracked ones not ignored."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / f.decode()).stat().st_size for f in files if f and (ROOT / f.decode()).is_file())


def parts(item: dict, room: int) -> list[list[tuple[str, Path]]]:
    """The item's data files (sub-folder, source path), in groups that each fit ``room`` bytes."""
    groups, current, size = [], [], 0
    for name in item.get("data", []):
        sub, files = DATA[name]
        for f in files:
            src = SHARED / sub / f
            if not src.is_file():
                raise SystemExit(f"error: {src} is missing (the data root is {SHARED}; set DGMBENCH_DATA)")
            if current and size + src.stat().st_size > room:
                groups.append(current)
                current, size = [], 0
            current.append((sub, src))
            size += src.stat().st_size
    return groups + ([current] if current else [])


def cmd_stage(args) -> int:
    """Stage part ``--part`` of the item's data into gpu-stage/ (emptied first) and print the calls."""
    item = pick(load(), args.item)
    tree = tree_bytes()
    room = CALL_MIB * 2 ** 20 - tree - 2 * 2 ** 20  # 2 MiB to spare
    if room < 16 * 2 ** 20:
        raise SystemExit(f"error: the tree alone carries {tree / 2 ** 20:.1f} MiB of a call's {CALL_MIB}: slim it "
                         "first (python benchmarks/gpu_queue.py slim; restore afterwards)")
    groups = parts(item, room) or [[]]
    if not 1 <= args.part <= len(groups):
        raise SystemExit(f"error: {item['name']} stages in {len(groups)} parts")
    shutil.rmtree(STAGE, ignore_errors=True)
    for sub, src in groups[args.part - 1]:
        (STAGE / "data" / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, STAGE / "data" / sub / src.name)
    staged = sum(p.stat().st_size for p in STAGE.rglob("*") if p.is_file()) if STAGE.exists() else 0
    print(f"part {args.part} of {len(groups)}: {staged / 2 ** 20:.1f} MiB in {STAGE.name}/ + the tree's "
          f"{tree / 2 ** 20:.1f} MiB")
    carry = ["gpu-stage"] + ([".whl"] if (ROOT / ".whl").is_dir() else [])
    what = f"run {item['name']}" if args.part == len(groups) else "receive"
    print(f'device call: run(command="python3 benchmarks/gpu_queue.py {what}", carry={carry}, timeout_s=600)')
    if args.part < len(groups):
        print(f"then: python benchmarks/gpu_queue.py stage {item['name']} --part {args.part + 1} (on the same, "
              f"warm machine: the device keeps staged data in {DEVICE_DATA} until it is given back)")
    return 0


SLIM = ["leaderboards/site", ":(glob)leaderboards/**/runs/**"]


def cmd_slim(args) -> int:
    """The committed run folders (about 50 MB of sample grids and curves) leave the index, not the
    disk, so that a device call carries the code and the data; commit nothing until ``restore``."""
    files = subprocess.run(["git", "ls-files", "-z", "--", *SLIM], cwd=ROOT, capture_output=True,
                           check=True).stdout.split(b"\0")
    files = [f.decode() for f in files if f]
    exclude = Path(subprocess.run(["git", "rev-parse", "--git-path", "info/exclude"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout.strip())
    exclude = exclude if exclude.is_absolute() else ROOT / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.touch()
    if SLIM_MARK not in exclude.read_text():
        with open(exclude, "a") as f:
            f.write(f"{SLIM_MARK}\nleaderboards/site/\nleaderboards/**/runs/\n")
    if files:
        subprocess.run(["git", "update-index", "--force-remove", "-z", "--stdin"], cwd=ROOT,
                       input="\0".join(files).encode(), check=True)
    print(f"untracked {len(files)} files in the index; the tree now carries {tree_bytes() / 2 ** 20:.1f} MiB. "
          "Nobody may commit in this checkout until `restore` (a commit now would delete the run folders)")
    return 0


def cmd_restore(args) -> int:
    """The index entries ``slim`` removed, back as HEAD has them; the exclude lines removed."""
    listing = subprocess.run(["git", "ls-tree", "-r", "-z", "HEAD", "--", "leaderboards"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=ROOT, input=listing, check=True)
    exclude = Path(subprocess.run(["git", "rev-parse", "--git-path", "info/exclude"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout.strip())
    exclude = exclude if exclude.is_absolute() else ROOT / exclude
    lines = exclude.read_text().splitlines() if exclude.is_file() else []
    if SLIM_MARK in lines:
        i = lines.index(SLIM_MARK)
        del lines[i:i + 3]
        exclude.write_text("\n".join(lines) + "\n")
    print(f"index restored; the tree carries {tree_bytes() / 2 ** 20:.1f} MiB")
    return 0


SLIM_MARK = "# dgmbench gpu_queue slim"


def cmd_receive(args) -> int:
    """On the device: keep this call's staged part (for a later call on the same machine)."""
    print(unpack_data(sys.stdout))
    return 0


def unpack_data(log) -> str:
    """On the device: the staged data, restored to its original bytes under DEVICE_DATA (kept there
    between calls while the machine is warm); returns the data root."""
    src = ROOT / "gpu-stage" / "data"
    for path in sorted(src.rglob("*")) if src.is_dir() else []:
        if not path.is_file():
            continue
        rel = path.relative_to(src)
        dest = DEVICE_DATA / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".gz" and path.parent.name == "raw":
            final = dest.with_suffix("")
            if not final.exists():
                with open(final, "wb") as f:
                    subprocess.run(["gunzip", "-c", str(path)], stdout=f, check=True)
        elif path.suffix == ".zip":
            if not (dest.parent / path.stem).exists():
                shutil.unpack_archive(path, dest.parent)
        else:
            shutil.copyfile(path, dest)
    print(f"data root {DEVICE_DATA}: " + ", ".join(sorted(p.name for p in DEVICE_DATA.iterdir()))
          if DEVICE_DATA.exists() else "no data staged", file=log, flush=True)
    return str(DEVICE_DATA)


def setup(log) -> None:
    """On the device (no network): wheels carried in .whl, then this checkout and its plugins as
    editable installs without dependencies (the box's Python has torch and the scientific stack)."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation"]
    env = {**os.environ, "PIP_BREAK_SYSTEM_PACKAGES": "1"}
    if (ROOT / ".whl").is_dir():
        subprocess.run(pip + [str(w) for w in (ROOT / ".whl").glob("*.whl")], stdout=log, stderr=log, env=env)
    plugins = [f"-e{p}" for p in sorted((ROOT / "plugins").iterdir()) if (p / "pyproject.toml").is_file()]
    subprocess.run(pip + ["-e.", *plugins], cwd=ROOT, stdout=log, stderr=log, env=env)
    subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv"], stdout=log, stderr=log)


def cmd_run(args) -> int:
    item = pick(load(), args.item)
    out = Path(os.environ.get("OUT", ROOT / "gpu-out"))
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    start = time.time()
    with open(out / f"{item['name']}.log", "a") as log:
        if not args.no_setup:
            setup(log)
            # an editable install's .pth is read at interpreter start: this process needs the path itself
            sys.path.insert(0, str(ROOT))
        data_root = unpack_data(log)
        env = {**os.environ, "DGMBENCH_DATA": data_root, "PYTHONUNBUFFERED": "1"}
        folders, failed = [], 0
        for step in item["steps"]:
            if "reproduce" in step:
                argv, folder_ = reproduce_argv(step, data_root, args.device)
                folder_.mkdir(parents=True, exist_ok=True)
                folders.append(folder_)
            else:
                argv = ["bash", "-c", step["shell"]]
            # the whole call must end inside the device tool's command limit, setup included, with
            # time left to pack the tables: a step gets at most what remains of --seconds
            limit = min(step["timeout"], int(start + args.seconds - 20 - time.time()))
            if limit < 5:
                print(f"== skipped (the call's {args.seconds} s are spent): {shlex.join(argv)}", file=log, flush=True)
                failed += 1
                continue
            print(f"== [{limit} s] {shlex.join(argv)}", file=log, flush=True)
            t = time.time()
            rc = run_step(argv, env, log, limit)
            failed += rc != 0
            print(f"   exit {rc} after {time.time() - t:.0f} s", file=log, flush=True)
            if "reproduce" in step:
                began = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="seconds")
                write_table_files(folder_, argv, log, began, f"stopped by its {limit} s limit" if isinstance(rc, str)
                                  else "")
        print(f"item {item['name']}: {time.time() - start:.0f} s, {failed} steps failed", file=log, flush=True)
    pack(item["name"], sorted(set(folders)), out)
    print((out / f"{item['name']}.log").read_text()[-6000:])
    return 1 if failed else 0


def run_step(argv: list[str], env: dict, log, limit: int) -> int | str:
    """Run one step in its own process group; past ``limit`` seconds the whole group (the sweep's
    packed workers too) is stopped, so that nothing of it competes with the next step."""
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        return "timed out (finished cells are stored; run the item again for the rest)"


def write_table_files(folder_: Path, argv: list[str], log, started: str = "", cut_off: str = "") -> None:
    """The csv beside the md, and provenance.json (reproduce writes <protocol>.md.provenance.json when
    it ends; for a sweep stopped by its time limit, the md and the provenance are made here from the
    runs it stored, and the provenance says it was cut off)."""
    import json

    protocol = argv[2]
    results, md = folder_ / "results.sqlite", folder_ / f"{protocol}.md"
    for fmt, path in (("csv", folder_ / f"{protocol}.csv"), ("md", md)):
        if fmt == "csv" or not md.is_file():
            subprocess.run(["dgmbench", "leaderboard", protocol, "--results", str(results), "--format", fmt,
                            "--output", str(path)], stdout=log, stderr=log)
    written = folder_ / f"{protocol}.md.provenance.json"
    if written.is_file():
        info = json.loads(written.read_text())
        written.unlink()
    else:
        info = provenance_from_store(results, shlex.join(argv), started)
    if cut_off:
        info["cut_off"] = cut_off
    packing = folder_ / "packing.json"
    if packing.is_file():
        info.setdefault("packing", []).append(json.loads(packing.read_text()))
        packing.unlink()
    (folder_ / "provenance.json").write_text(json.dumps(info, indent=2) + "\n")


def provenance_from_store(results: Path, command: str, started: str) -> dict:
    """A provenance record for a sweep that did not end by itself, from the runs it stored: budget,
    code version, libraries and device are the runs' own."""
    import json
    import sqlite3
    from contextlib import closing

    from dgmbench.store import readonly_uri

    row = None
    if results.is_file():
        with closing(sqlite3.connect(readonly_uri(results), uri=True)) as db:
            row = db.execute("SELECT budget, code_version, libraries, device, min(created), max(finished) FROM runs "
                             "WHERE status = 'ok'").fetchone()
    budget, code, libraries, device, first, last = row or (None,) * 6

    def iso(t):
        return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="seconds") if t else ""

    info = {"commands": [{"command": command, "date": started or iso(first)}], "budget": budget or "",
            "date": iso(last) or started,
            "results_file": str(results), "code_version": code or "", "machine": "",
            "libraries": json.loads(libraries) if libraries else {}}
    if device and "(" in device:
        info["gpu"] = device.split("(", 1)[1].rstrip(")")
    return info


def pack(name: str, folders: list[Path], out: Path) -> None:
    """The item's table folders, without checkpoints, as one tarball (the device returns 8 files)."""
    with tarfile.open(out / f"{name}.tar.gz", "w:gz") as tar:
        for f in folders:
            tar.add(f, filter=lambda ti: None if ti.name.endswith((".pt", ".tmp")) else ti)


def cmd_land(args) -> int:
    tarball = Path(args.tarball)
    name = re.sub(r"\.tar\.gz$", "", tarball.name)
    items = load()
    pick(items, name)
    with tarfile.open(tarball) as tar:
        tar.extractall(ROOT, filter="data")
        provenances = [ROOT / m.name for m in tar.getmembers() if Path(m.name).name == "provenance.json"]
    cut = [p.parent for p in provenances if "cut_off" in p.read_text()]
    if cut:
        if (ROOT / "leaderboards" / "regenerate.py").is_file():
            subprocess.run([sys.executable, "leaderboards/regenerate.py", "--index-only"], cwd=ROOT)
        print(f"landed {name}, not dated: a step was cut off ({', '.join(str(c.relative_to(ROOT)) for c in cut)}); "
              "run the item again for the rest")
        return 0
    text = QUEUE.read_text()
    today = datetime.date.today().isoformat()
    pattern = re.compile(r'(name = "' + re.escape(name) + r'"\ndone = )"[^"]*"')
    if not pattern.search(text):
        raise SystemExit(f"error: {QUEUE}: item {name!r} has no `done = ...` line right after its name")
    QUEUE.write_text(pattern.sub(lambda m: f'{m.group(1)}"{today}"', text))
    if (ROOT / "leaderboards" / "regenerate.py").is_file():
        subprocess.run([sys.executable, "leaderboards/regenerate.py", "--index-only"], cwd=ROOT)
    print(f"landed {name} ({today}); commit leaderboards/ and {QUEUE.relative_to(ROOT)}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    sub.add_parser("check")
    st = sub.add_parser("stage")
    st.add_argument("item", nargs="?")
    st.add_argument("--part", type=int, default=1, help="which part of data too big for one call (1, 2, ...)")
    rn = sub.add_parser("run")
    rn.add_argument("item", nargs="?")
    rn.add_argument("--device", default="cuda", help="cpu: rehearse an item here (the tables still go to gpu-*)")
    rn.add_argument("--no-setup", action="store_true", help="dgmbench is installed already: skip pip")
    rn.add_argument("--seconds", type=int, default=585,
                    help="the whole call's time, setup and packing included (the device's limit is 600)")
    sub.add_parser("receive")
    sub.add_parser("slim")
    sub.add_parser("restore")
    sub.add_parser("land").add_argument("tarball")
    args = ap.parse_args(argv)
    return {"list": cmd_list, "check": cmd_check, "stage": cmd_stage, "run": cmd_run, "land": cmd_land,
            "receive": cmd_receive, "slim": cmd_slim, "restore": cmd_restore}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
