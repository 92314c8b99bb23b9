"""benchmarks/gpu-queue and its runner: the queue parses, every step names an existing protocol,
a budget the protocol sizes, existing cells, and parses as `dgmbench reproduce` does (nothing
runs); a broken item is refused in one line; landing an item unpacks its tables and dates it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def gq(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_queue", ROOT / "benchmarks" / "gpu_queue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_queue_checks(gq, capsys):
    assert gq.main(["check"]) == 0, capsys.readouterr().err
    items = gq.load()
    names = [i["name"] for i in items]
    first = {s["reproduce"].split()[0] for i in items[:names.index("cuda-tests")] for s in i["steps"]}
    assert {"iwae-table", "mnist-nll", "posterior-collapse", "gan-modes", "gan-losses", "disentanglement",
            "identifiability"} <= first  # every MNIST-sized table comes before the CUDA tests
    for item in items:
        assert sum(s["timeout"] for s in item["steps"]) <= 540
    argv, folder = gq.reproduce_argv(items[names.index("iwae-table")]["steps"][0], "/data")
    assert argv[:3] == ["dgmbench", "reproduce", "iwae-table"] and "--device" in argv and "cuda" in argv
    assert folder == Path("leaderboards/iwae-table/gpu-gpu")


QUEUE_ITEM = '''[[item]]
name = "x"
done = ""
minutes = 1
steps = [{{reproduce = "{step}", timeout = {timeout}}}]
'''


@pytest.mark.parametrize("step, timeout, says", [
    ("nosuch --budget gpu", 10, "no protocol 'nosuch'"),
    ("posterior-collapse --budget quick", 10, "does not size the budget 'quick'"),
    ("posterior-collapse --budget gpu --cells nocell", 10, "has no cell 'nocell'"),
    ("posterior-collapse --budget gpu --jobs", 10, "does not parse"),
])
def test_a_broken_step_is_named(gq, tmp_path, monkeypatch, capsys, step, timeout, says):
    queue = tmp_path / "gpu-queue"
    queue.write_text(QUEUE_ITEM.format(step=step, timeout=timeout))
    monkeypatch.setattr(gq, "QUEUE", queue)
    assert gq.main(["check"]) == 1
    assert says in capsys.readouterr().err


def test_an_item_over_nine_minutes_is_refused(gq, tmp_path, monkeypatch):
    queue = tmp_path / "gpu-queue"
    queue.write_text(QUEUE_ITEM.format(step="posterior-collapse --budget gpu", timeout=600))
    monkeypatch.setattr(gq, "QUEUE", queue)
    with pytest.raises(SystemExit, match="more than 9 minutes"):
        gq.load()


def test_land_unpacks_and_dates_the_item(gq, tmp_path, monkeypatch):
    queue = tmp_path / "benchmarks" / "gpu-queue"
    queue.parent.mkdir()
    queue.write_text(QUEUE_ITEM.format(step="posterior-collapse --budget gpu", timeout=10)
                     + QUEUE_ITEM.format(step="posterior-collapse --budget gpu", timeout=10).replace('"x"', '"y"'))
    monkeypatch.setattr(gq, "QUEUE", queue)
    monkeypatch.setattr(gq, "ROOT", tmp_path)
    table = tmp_path / "src" / "leaderboards" / "posterior-collapse" / "gpu-gpu"
    table.mkdir(parents=True)
    (table / "posterior-collapse.md").write_text("table")
    (table / "checkpoint.pt").write_text("big")
    monkeypatch.chdir(tmp_path / "src")
    gq.pack("x", [Path("leaderboards/posterior-collapse/gpu-gpu")], tmp_path)
    assert gq.main(["land", str(tmp_path / "x.tar.gz")]) == 0
    landed = tmp_path / "leaderboards" / "posterior-collapse" / "gpu-gpu"
    assert (landed / "posterior-collapse.md").read_text() == "table"
    assert not (landed / "checkpoint.pt").exists()  # checkpoints stay on the device
    dated = [i["done"] for i in gq.load()]
    assert dated[0] and dated[0][:2] == "20" and dated[1] == ""  # only the landed item
    assert gq.pick(gq.load(), None)["name"] == "y"


def test_run_then_land_an_item_rehearsed_on_the_cpu(gq, tmp_path, monkeypatch, capsys):
    """`run` fills the protocol's GPU folder (md, csv, provenance.json with the packing) and packs it
    into $OUT/<item>.tar.gz; `land` puts it in place and dates the item."""
    device, here = tmp_path / "device", tmp_path / "here"
    for root in (device, here):
        (root / "benchmarks").mkdir(parents=True)
        (root / "benchmarks" / "gpu-queue").write_text(QUEUE_ITEM.format(
            step="posterior-collapse --budget smoke --cells vae-full --jobs 2 --grid-samples 0", timeout=300))
    monkeypatch.setattr(gq, "ROOT", device)
    monkeypatch.setattr(gq, "QUEUE", device / "benchmarks" / "gpu-queue")
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setattr(gq, "DEVICE_DATA", tmp_path / "device-data")
    assert gq.main(["run", "--device", "cpu", "--no-setup"]) == 0, capsys.readouterr().out
    table = device / "leaderboards" / "posterior-collapse" / "gpu-smoke"
    assert {"posterior-collapse.md", "posterior-collapse.csv", "provenance.json", "results.sqlite"} <= \
        {p.name for p in table.iterdir()}
    import json

    provenance = json.loads((table / "provenance.json").read_text())
    assert provenance["packing"][0]["jobs"] == 1 and "--jobs 2" in provenance["commands"][0]["command"]
    monkeypatch.setattr(gq, "ROOT", here)
    monkeypatch.setattr(gq, "QUEUE", here / "benchmarks" / "gpu-queue")
    assert gq.main(["land", str(tmp_path / "out" / "x.tar.gz")]) == 0
    assert (here / "leaderboards" / "posterior-collapse" / "gpu-smoke" / "posterior-collapse.md").is_file()
    assert gq.load()[0]["done"]


def test_a_step_cut_off_still_leaves_its_table_and_is_not_dated(gq, tmp_path, monkeypatch, capsys):
    """A call's --seconds shortens the step; the sweep's process group is stopped at the limit; the
    md, csv and a provenance.json saying cut_off are still written, and `land` leaves the item undated."""
    import json

    device, here = tmp_path / "device", tmp_path / "here"
    for root in (device, here):
        (root / "benchmarks").mkdir(parents=True)
        (root / "benchmarks" / "gpu-queue").write_text(QUEUE_ITEM.format(
            step="posterior-collapse --budget cpu --cells vae-full --seeds 0 1 --jobs 2", timeout=300))
    monkeypatch.setattr(gq, "ROOT", device)
    monkeypatch.setattr(gq, "QUEUE", device / "benchmarks" / "gpu-queue")
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setattr(gq, "DEVICE_DATA", tmp_path / "device-data")
    assert gq.main(["run", "--device", "cpu", "--no-setup", "--seconds", "26"]) == 1
    log = capsys.readouterr().out
    assert "timed out" in log and "== [300 s]" not in log  # shortened to what the call had left
    table = device / "leaderboards" / "posterior-collapse" / "gpu-cpu"
    assert {"posterior-collapse.md", "posterior-collapse.csv", "provenance.json"} <= {p.name for p in table.iterdir()}
    provenance = json.loads((table / "provenance.json").read_text())
    assert provenance["cut_off"].startswith("stopped by its") and provenance["commands"]
    monkeypatch.setattr(gq, "ROOT", here)
    monkeypatch.setattr(gq, "QUEUE", here / "benchmarks" / "gpu-queue")
    assert gq.main(["land", str(tmp_path / "out" / "x.tar.gz")]) == 0
    assert "not dated" in capsys.readouterr().out and gq.load()[0]["done"] == ""


def test_slim_and_restore_touch_only_the_index(gq, tmp_path, monkeypatch):
    import subprocess

    repo = tmp_path / "repo"
    runs = repo / "leaderboards" / "p" / "cpu-cpu" / "runs" / "r1"
    runs.mkdir(parents=True)
    (runs / "samples.png").write_bytes(b"x" * 100_000)
    (repo / "leaderboards" / "p" / "p.md").write_text("table")
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout  # noqa: E731
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    monkeypatch.setattr(gq, "ROOT", repo)
    before = gq.tree_bytes()
    assert gq.main(["slim"]) == 0
    assert git("ls-files").split() == ["leaderboards/p/p.md"] and gq.tree_bytes() < before - 90_000
    assert (runs / "samples.png").is_file()  # the files stay on disk
    assert gq.main(["restore"]) == 0
    assert "leaderboards/p/cpu-cpu/runs/r1/samples.png" in git("ls-files") and git("status", "--porcelain") == ""
    assert gq.tree_bytes() == before
