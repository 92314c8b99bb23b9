"""Faults a user or the machine causes: one line naming the file or value, exit 2, nothing stored."""
from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from dgmbench.cli import main

SMOKE = ["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress"]


def one_error_line(capsys, *names) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "unexpected" not in err and "DGMBENCH_DEBUG" not in err, err
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


def nothing_stored():
    return not Path("results/results.sqlite").exists()


@pytest.mark.parametrize("flags, named", [
    (["--epochs", "-1"], "--epochs"), (["--epochs", "0"], "--epochs"), (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"), (["--lr", "-0.1"], "--lr"), (["--batch-size", "0"], "--batch-size"),
    (["--max-steps", "0"], "--max-steps"), (["--max-seconds", "inf"], "--max-seconds"),
    (["--max-train-examples", "-5"], "--max-train-examples"), (["--seed", "-1"], "--seed"),
    (["--metric-option", "nll_k=0"], "nll_k"), (["--metric-option", "sample_metric_n=2.5"], "sample_metric_n"),
    (["--metric-option", "au_threshold=NaN"], "au_threshold"),
])
def test_numbers_out_of_range(capsys, flags, named):
    assert main([*SMOKE, *flags]) == 2
    one_error_line(capsys, named, flags[1].split("=")[-1].lower())
    assert nothing_stored()


def test_reproduce_checks_its_seeds_too(capsys):
    assert main(["reproduce", "mnist-nll", "--seeds", "0", "-2", "--budget", "smoke"]) == 2
    one_error_line(capsys, "--seed", "-2")


@pytest.mark.parametrize("plugin, config, words", [
    ("vae", "layer=2", ["'layer'", "did you mean layers"]),
    ("realnvp", "nosuchkey=1", ["'nosuchkey'", "couplings"]),
    ("uniform", "k=1", ["'k'", "no config keys"]),
    ("vae", "k=2.5", ["k=2.5", "int"]),
    ("gaussian", "jitter=NaN", ["jitter", "finite"]),
    ("pixelcnn", "cached_sampling=1", ["cached_sampling", "bool"]),
])
def test_config_keys_and_types_are_checked(capsys, plugin, config, words):
    assert main(["run", "--plugin", plugin, "--budget", "smoke", "--no-progress", "--config", config]) == 2
    one_error_line(capsys, *words)
    assert nothing_stored()


def test_a_spec_that_declares_nothing_accepts_its_defaults_keys():
    from dgmbench.errors import ConfigError
    from dgmbench.specs import ModelSpec

    spec = ModelSpec("m", "x:y", [], defaults={"beta": 4.0, "layers": 2})
    spec.check_config({"beta": 1, "layers": 3})  # an int where the default is a float is fine
    with pytest.raises(ConfigError, match="did you mean beta"):
        spec.check_config({"betta": 1.0})
    with pytest.raises(ConfigError, match="must be int"):
        spec.check_config({"layers": True})
    ModelSpec("open", "x:y", []).check_config({"anything": 1})  # nothing declared at all: passes, warned


def test_an_unknown_device(capsys):
    assert main([*SMOKE, "--device", "gpu"]) == 2
    one_error_line(capsys, "'gpu'", "cpu")
    assert nothing_stored()


def _png(path: Path, value: int = 128):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)


def test_an_image_folder_class_without_images(tmp_path, capsys):
    root = tmp_path / "imgs"
    for i in range(12):
        _png(root / "cats" / f"{i}.png", i)
    (root / "dogs").mkdir()
    (root / "dogs" / "readme.txt").write_text("no pictures yet")
    assert main([*SMOKE, "--dataset", f"imagefolder:{root}"]) == 2
    assert "holds no image" in one_error_line(capsys, root / "dogs")
    assert nothing_stored()


def test_an_image_folder_file_that_is_not_an_image(tmp_path, capsys):
    root = tmp_path / "imgs"
    for i in range(12):
        _png(root / "cats" / f"{i}.png", i)
    (root / "cats" / "broken.png").write_text("not a png")
    assert main([*SMOKE, "--dataset", f"imagefolder:{root}"]) == 2
    assert "not a readable image" in one_error_line(capsys, root / "cats" / "broken.png")
    assert nothing_stored()


def test_a_full_disk_while_checkpointing(capsys, monkeypatch):
    """torch.save writes part of the file, then the disk is full: the partial checkpoint.tmp is
    removed, the first cause is the one line shown (with the path), and the row is settled."""
    real_save = torch.save

    def save_until_full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_full)
    assert main(SMOKE) == 2
    line = one_error_line(capsys, "checkpoint.pt", "no space left")
    monkeypatch.setattr(torch, "save", real_save)
    (run,) = sqlite3.connect("results/results.sqlite").execute("SELECT status, error, out_dir FROM runs").fetchall()
    assert run[0] == "failed" and "no space left" in run[1]
    assert not list(Path(run[2]).glob("*.tmp")) and str(Path(run[2]) / "checkpoint.pt") in line


def test_a_checkpoint_refused_by_weights_only_loading(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Path("/etc/passwd")}, path)  # an object weights_only will not load
    assert main(["eval", "--checkpoint", str(path), "--plugin", "gaussian", "--dataset", "digits"]) == 2
    assert "for safety" in one_error_line(capsys, path)
    assert nothing_stored()


def test_exports_escape_markup():
    from dgmbench import leaderboard
    from dgmbench.specs import Cell, ProtocolSpec
    from dgmbench.store import Store

    evil = "<script>alert(1)</script> a|b & {x}_%"
    protocol = ProtocolSpec("p", "1", [Cell("c", "gaussian", "digits", config={"note": evil}, labels={"model": evil})],
                            ["nll"], columns={"nll": "nll"}, caption=f"Caption {evil}")
    store = Store("r.sqlite")
    run = store.start_run(protocol="p", protocol_version="1", cell="c", model="gaussian", dataset="digits",
                          budget="b", seed=0, config={"note": evil}, record="{}")
    store.update_run(run, status="ok")
    store.add_metrics(run, "nll", {"nll": 1.5})
    df, caption = leaderboard.build(protocol, Store("r.sqlite", readonly=True), "b")
    md = leaderboard.export(df, caption, "md")
    assert "<script>" not in md and "</script>" not in md and "&lt;script>" in md and "a\\|b" in md
    assert all(line.count("|") - line.count("\\|") == md.splitlines()[2].count("|")
               for line in md.splitlines()[2:] if line.startswith("|"))  # no cell splits a row
    latex = leaderboard.export(df, caption, "latex")
    assert "<script>" not in latex and "\\&" in latex and "\\_\\%" in latex
    assert "\\caption{Caption \\ensuremath{<}script" in latex
    js = leaderboard.export(df, caption, "json")
    assert "<" not in js and json.loads(js)["rows"][0]["model"] == evil  # escaped text, same value
    import io

    import pandas as pd

    back = pd.read_csv(io.StringIO(leaderboard.export(df, caption, "csv")))
    assert back.loc[0, "model"] == evil and back.loc[0, "nll (ours)"] == 1.5
