"""The canonical table of a protocol: the ranking of its measurements, the copy that names the one it
shows, the index, the manifest's checks and the load-average refusal of the regeneration."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dgmbench import canonical
from dgmbench.canonical import Measurement, budget_label, choose, load_manifest, write_canonical, write_index
from dgmbench.errors import DgmbenchError

REPO = Path(__file__).resolve().parents[1]


def make_measurement(root: Path, protocol: str, folder: str, budget: str, steps: int, runs: int,
                     gpu: bool = False, date: str = "2026-12-01T10:00:00+00:00", cells: int = 2,
                     version: str = "1") -> Path:
    d = root / protocol / folder
    d.mkdir(parents=True)
    info = {"budget": budget, "date": date, "machine": "x86_64, cpu, 2 cores", "commands": []}
    if gpu:
        info["gpu"] = "NVIDIA H200"
    (d / "provenance.json").write_text(json.dumps(info))
    with sqlite3.connect(d / "results.sqlite") as db:
        db.execute("CREATE TABLE runs (protocol TEXT, protocol_version TEXT, budget TEXT, status TEXT, "
                   "steps INTEGER, cell TEXT)")
        db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                       [(protocol, version, budget, "ok", steps, f"c{i % cells}") for i in range(runs)]
                       + [(protocol, version, budget, "failed", 10 * steps, "c-failed")])
    (d / f"{protocol}.md").write_text(f"table of {folder}\n")
    (d / f"{protocol}.csv").write_text(f"cell,value\n{folder},1\n")
    return d


def m(device, steps, runs=3, date="2026-12-01", cells=3, cut_off=""):
    return Measurement("p", Path(f"{device}-{steps}"), device, f"b{steps}", steps, runs, date, cells=cells,
                       cut_off=cut_off)


def test_a_sweep_cut_off_does_not_hide_one_that_ended():
    cut = "stopped by its 200 s limit"
    assert choose([m("cpu", 500, cells=24), m("gpu", 10000, cells=5, cut_off=cut)]).device == "cpu"
    assert choose([m("cpu", 500, cells=24), m("gpu", 10000, cells=24)]).device == "gpu"
    assert choose([m("cpu", 2000, cells=8), m("cpu", 200, cells=24)]).steps == 2000  # a deliberate subset
    assert choose([m("gpu", 500, cells=5), m("gpu", 500, cells=9)]).cells == 9


def test_gpu_beats_cpu_then_more_steps_then_more_runs():
    assert choose([m("cpu", 5000), m("gpu", 500)]).device == "gpu"
    assert choose([m("cpu", 200), m("cpu", 2000), m("cpu", 50)]).steps == 2000
    assert choose([m("gpu", 500, runs=6), m("gpu", 500, runs=13)]).runs == 13
    assert choose([m("cpu", 100, date="2026-11-29"), m("cpu", 100, date="2026-12-02")]).date == "2026-12-02"
    assert choose([]) is None


def test_budget_labels_name_the_folders():
    assert budget_label("cpu") == "cpu"
    assert budget_label("quick[eval_every=50,max_steps=100,nll_k=200]") == "quick-100steps"
    assert budget_label("full[memory_batch=16,throughput_steps=1]") == "full-reduced"
    assert canonical.folder_name("gpu", "full[max_steps=500]") == "gpu-full-500steps"
    with pytest.raises(DgmbenchError, match="tpu"):
        canonical.folder_name("tpu", "cpu")


def test_the_canonical_table_is_the_best_measurement_and_says_so(tmp_path):
    make_measurement(tmp_path, "toy", "cpu-quick-200steps", "quick[max_steps=200]", 200, 24)
    make_measurement(tmp_path, "toy", "cpu-quick-2000steps", "quick[max_steps=2000]", 2000, 24)
    make_measurement(tmp_path, "toy", "gpu-gpu", "gpu", 1000, 6, gpu=True, date="2026-11-30T09:00:00+00:00")
    best = write_canonical(tmp_path / "toy")
    assert best.folder.name == "gpu-gpu" and best.runs == 6 and best.steps == 1000  # the failed run not counted
    assert best.cells == 2
    md = (tmp_path / "toy" / "toy.md").read_text().splitlines()
    assert md[0].startswith("Canonical: measured on GPU (NVIDIA H200) under budget `gpu` on 2026-11-30")
    assert "`cpu-quick-2000steps/`, `cpu-quick-200steps/`" in md[0] and md[2] == "table of gpu-gpu"
    assert (tmp_path / "toy" / "toy.csv").read_text().endswith("gpu-gpu,1\n")
    index = write_index(tmp_path).read_text()
    assert "| [toy](toy/toy.md) | [`gpu-gpu`](toy/gpu-gpu/) | gpu | 2026-11-30 | 3 |" in index


def test_a_table_of_an_older_protocol_version_is_not_canonical(tmp_path, monkeypatch):
    """A GPU table whose runs all predate the protocol's current version loses to a CPU table of it."""
    make_measurement(tmp_path, "toy", "gpu-quick-2000steps", "quick[max_steps=2000]", 2000, 8, gpu=True, version="1")
    make_measurement(tmp_path, "toy", "cpu-cpu", "cpu", 500, 24, version="2")
    monkeypatch.setattr(canonical, "current_version", lambda protocol: "2")
    best = write_canonical(tmp_path / "toy")
    assert best.folder.name == "cpu-cpu" and best.runs == 24
    first = (tmp_path / "toy" / "toy.md").read_text().splitlines()[0]
    assert "`gpu-quick-2000steps/` (no runs of the current protocol version)" in first
    monkeypatch.setattr(canonical, "current_version", lambda protocol: "1")
    assert write_canonical(tmp_path / "toy").folder.name == "gpu-quick-2000steps"


def test_the_committed_leaderboards_follow_the_layout():
    """Every protocol folder's first line names a measurement folder that exists and ranks first."""
    root = REPO / "leaderboards"
    protocols = [d for d in root.iterdir() if d.is_dir() and d.name != "site"]
    assert len(protocols) >= 10
    for d in protocols:
        first = (d / f"{d.name}.md").read_text().splitlines()[0]
        best = choose(canonical.measurements(d))
        assert first.startswith("Canonical:") and f"(`{best.folder.name}/`" in first, d.name
        assert not (d / "results.sqlite").exists() and not (d / "gpu").exists(), d.name
    assert not any(p.name.endswith(".md.provenance.json") for p in root.glob("*/*/*"))


def test_the_manifest_is_read_and_checked(tmp_path):
    entries = load_manifest(REPO / "leaderboards" / "manifest.toml")
    assert {e.device for e in entries} == {"cpu", "gpu"}
    cpu = next(e for e in entries if e.protocol == "mnist-nll" and e.device == "cpu")
    argv = cpu.argv("DATA", Path("leaderboards"))
    assert len(argv) == len(cpu.commands) > 1
    assert argv[0][:5] == ["dgmbench", "reproduce", "mnist-nll", "--budget", "cpu"]
    assert "leaderboards/mnist-nll/cpu-cpu/results.sqlite" in argv[1] and argv[1][-1] == "0"
    gpu = next(e for e in entries if e.device == "gpu")
    assert gpu.argv("DATA", Path("x"))[0][-2:] == ["--device", "cuda"] or "--device" in gpu.argv("D", Path("x"))[0]
    bad = tmp_path / "m.toml"
    for text, message in [('[[measurement]]\nprotocol = "p"\ndevice = "cpu"\n', "lacks budget"),
                          ('[[measurement]]\nprotocol = "p"\ndevice = "tpu"\nbudget = "b"\n', "device 'tpu'"),
                          ('[[measurement]]\nprotocol = "p"\ndevice = "cpu"\nbudget = "b"\nsteps = 3\n',
                           "unknown keys"),
                          ('[[measurement]]\nprotocol = "p"\ndevice = "cpu"\nbudget = "b"\n' * 2, "listed twice"),
                          ("[[measurement]\n", "m.toml")]:
        bad.write_text(text)
        with pytest.raises(DgmbenchError, match=message):
            load_manifest(bad)


def test_regeneration_refuses_a_busy_machine_unless_forced(monkeypatch):
    monkeypatch.setattr(canonical.os, "getloadavg", lambda: (5.0, 3.0, 1.0))
    monkeypatch.setattr(canonical.os, "cpu_count", lambda: 2)
    with pytest.raises(DgmbenchError, match="load average is 5.00 on 2 cores"):
        canonical.load_check()
    assert canonical.load_check(force=True) == (5.0, 3.0, 1.0)
    monkeypatch.setattr(canonical.os, "getloadavg", lambda: (1.5, 3.0, 1.0))
    assert canonical.load_check()[0] == 1.5


def test_regenerate_script_dry_run_prints_the_manifest_commands():
    out = subprocess.run([sys.executable, "leaderboards/regenerate.py", "--dry-run", "--device", "gpu", "gan-losses"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("dgmbench reproduce gan-losses --budget gpu") and "--device cuda" in out.stdout
    assert "--feature-net domain" in out.stdout
    out = subprocess.run([sys.executable, "leaderboards/regenerate.py", "--dry-run", "nosuch"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "nosuch" in out.stderr


def test_byte_copies_of_an_image_become_links_to_one_file(tmp_path):
    """Identical runs (IWAE k = 1 is the VAE) write identical pictures: the tree keeps each once."""
    a, b, c = (tmp_path / "p" / "cpu-cpu" / "runs" / r / "samples.png" for r in ("iwae-k1", "vae-k1", "vae-k5"))
    for path, data in ((a, b"same picture"), (b, b"same picture"), (c, b"another picture")):
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    assert canonical.link_duplicate_images(tmp_path) == 1
    assert not a.is_symlink() and b.is_symlink() and not c.is_symlink()
    assert b.resolve() == a.resolve() and b.read_bytes() == b"same picture" and c.read_bytes() == b"another picture"
    assert not Path(os.readlink(b)).is_absolute()  # the link survives a moved checkout
    assert canonical.link_duplicate_images(tmp_path) == 0  # a second pass finds nothing left to link
