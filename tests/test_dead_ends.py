"""What a user or the machine gets wrong, end to end: each is one line, exit 2, nothing stored, and
(for names and config values) answered before torch is imported."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from dgmbench.cli import main


def one_line(capsys, *words) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "DGMBENCH_DEBUG" not in err, err
    for word in words:
        assert str(word) in lines[0], lines[0]
    return lines[0]


def results() -> Path:
    return Path(os.environ["DGMBENCH_RESULTS"])


def in_fresh_process(argv) -> tuple[int, str, bool]:
    """(exit code, stderr, whether torch was imported) of ``main(argv)`` in a new interpreter."""
    code = (f"import sys; from dgmbench.cli import main; rc = main({argv!r}); "
            "sys.stdout.write('TORCH=%s' % ('torch' in sys.modules)); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stderr, "TORCH=True" in r.stdout


@pytest.mark.parametrize("argv, words", [
    (["run", "--plugin", "wgan-gp", "--config", "n_critic=0"], ["n_critic=0", "at least 1"]),
    (["run", "--plugin", "wgan-gp", "--config", "gp_lambda=-1"], ["gp_lambda=-1", "at least 0"]),
    (["run", "--plugin", "wgan", "--config", "optimizer=sgdx"], ["optimizer='sgdx'", "one of adam, rmsprop"]),
    (["run", "--plugin", "nsgan", "--config", "beta1=1.0"], ["beta1=1.0", "less than 1.0"]),
    (["run", "--plugin", "wgan-gp", "--config", "n_critc=5"], ["n_critc", "did you mean n_critic"]),
    (["reproduce", "gan-losses", "--config", "n_critic=0"], ["n_critic=0", "at least 1"]),
    (["reproduce", "gan-losses", "--config", "n_critc=5"], ["no model of this sweep", "n_critc"]),
])
def test_config_values_are_checked_before_torch_and_nothing_is_stored(argv, words):
    rc, err, torch_imported = in_fresh_process([*argv, "--budget", "smoke"])
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and all(w in lines[0] for w in words), err
    assert not torch_imported
    assert not results().exists()


def test_a_plain_type_declaration_still_works():
    from dgmbench import ConfigKey, ModelSpec
    from dgmbench.errors import ConfigError

    spec = ModelSpec("m", "x:y", [], config={"n": int, "lr": ConfigKey(float, above=0.0), "opt": ConfigKey(
        str, choices=("adam", "rmsprop"))})
    spec.check_config({"n": -3, "lr": 0.1, "opt": "adam"})  # a plain type bounds nothing
    assert spec.config_types() == {"n": int, "lr": float, "opt": str}
    for bad, why in (({"lr": 0.0}, "greater than 0.0"), ({"opt": "sgd"}, "one of adam"), ({"n": 1.5}, "must be int")):
        with pytest.raises(ConfigError, match=why):
            spec.check_config(bad)
    assert ConfigKey(int, min=1, below=10).describe() == "int >= 1 < 10"


def test_a_feature_network_that_cannot_be_built_is_refused_before_training(monkeypatch, tmp_path, capsys):
    """Inception's weights neither cached nor downloadable (offline): the run stops before it
    trains, instead of training and then failing every sample metric."""
    from cleanfid import downloads_helper

    from dgmbench.features import inception

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(inception, "CLEANFID_DIR", tmp_path / "no-cleanfid")
    monkeypatch.setattr(downloads_helper, "check_download_inception", offline)
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--metric", "fid", "--no-progress"]) == 2
    one_line(capsys, "clean-fid Inception weights", "--feature-net domain")
    assert not results().exists() or not sqlite3.connect(results()).execute("SELECT * FROM runs").fetchall()
    assert not (results().parent / "runs").exists() or not any((results().parent / "runs").iterdir())


def test_score_folder_names_a_file_that_is_not_an_image(tmp_path, capsys):
    from PIL import Image

    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("L", (8, 8), i * 40).save(tmp_path / name / f"{i}.png")
    (tmp_path / "fake" / "notes.png").write_text("these are not pixels")
    assert main(["score-folder", str(tmp_path / "real"), str(tmp_path / "fake"), "--feature-net", "domain"]) == 2
    one_line(capsys, "notes.png", "not a readable image")


def test_report_output_onto_a_file_or_a_read_only_place(tmp_path, capsys):
    (tmp_path / "taken.html").write_text("mine")
    assert main(["report", "--output", str(tmp_path / "taken.html")]) == 2
    one_line(capsys, "taken.html", "is a file")
    assert (tmp_path / "taken.html").read_text() == "mine"
    place = _read_only_folder(tmp_path)
    assert main(["report", "--output", str(place / "site")]) == 2
    one_line(capsys, "read-only", "--output")


def _read_only_folder(tmp_path) -> Path:
    """A folder no file can be created in, for root too (permission bits do not bind root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    for folder in (Path("/sys/kernel"), Path("/proc/sys")):
        try:
            (folder / "dgmbench-probe").touch()
        except OSError:
            return folder
    pytest.skip("no read-only folder for root here")


def test_a_results_file_in_a_read_only_folder(tmp_path, capsys):
    place = _read_only_folder(tmp_path)
    rc = main(["run", "--plugin", "gaussian", "--budget", "smoke", "--results", str(place / "r" / "results.sqlite")])
    assert rc == 2
    one_line(capsys, "read-only", "--results")


def test_a_results_file_on_a_full_disk_says_the_disk_is_full(tmp_path, monkeypatch):
    """SQLite reports a full disk during a WAL write as a bare "disk I/O error"."""
    from dgmbench import store

    err = sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(store.shutil, "disk_usage", lambda p: SimpleNamespace(free=4096))
    assert "the disk is full" in str(store._store_error(tmp_path / "r.sqlite", err))
    monkeypatch.setattr(store.shutil, "disk_usage", lambda p: SimpleNamespace(free=10 * 2 ** 30))
    assert "disk I/O error" in str(store._store_error(tmp_path / "r.sqlite", err))


def test_a_results_file_of_a_newer_schema_is_refused_up_front(capsys):
    from dgmbench.store import SCHEMA_VERSION, Store

    Store(results())  # a current file
    assert sqlite3.connect(results()).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with sqlite3.connect(results()) as db:
        db.execute("PRAGMA user_version = 99")
    for argv in (["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress"], ["runs"]):
        assert main(argv) == 2
        one_line(capsys, "schema version 99", f"this dgmbench's {SCHEMA_VERSION}")
    assert not sqlite3.connect(results()).execute("SELECT * FROM runs").fetchall()


def test_resume_with_another_models_checkpoint_is_one_line(capsys):
    from dgmbench.specs import RunRecord

    assert main(["run", "--plugin", "realnvp", "--budget", "smoke", "--no-progress", "--grid-samples", "0"]) == 0
    mine = next(results().parent.glob("runs/realnvp-*/checkpoint.pt"))
    theirs = results().parent / "runs" / RunRecord(model="nice", dataset="digits", budget="smoke").key()
    theirs.mkdir(parents=True)
    (theirs / "checkpoint.pt").write_bytes(mine.read_bytes())
    capsys.readouterr()
    assert main(["run", "--plugin", "nice", "--budget", "smoke", "--no-progress", "--resume"]) == 2
    one_line(capsys, "checkpoint.pt", "does not fit this model")


def test_a_plugin_with_several_models_says_which_one_ran(capsys):
    rc = main(["run", "--plugin", "baselines", "--budget", "smoke", "--no-progress", "--grid-samples", "0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "plugin 'baselines' provides" in out and "models; running 'uniform' (its first)" in out
    assert "--plugin MODEL: gaussian" in out


@pytest.mark.parametrize("argv", [["plugins"], ["list", "protocols"], ["list", "models"],
                                  ["list", "cells", "gan-losses"]])
def test_listings_piped_are_wrapped(argv):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    r = subprocess.run([sys.executable, "-m", "dgmbench", *argv], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0
    assert max(len(line) for line in r.stdout.splitlines()) <= 120


def _outcome(net: str | None, metrics: dict):
    from dgmbench.runner import RunOutcome
    from dgmbench.specs import RunRecord

    record = RunRecord(model="nsgan", dataset="mnist", protocol="gan-losses", cell="mnist-nsgan",
                       options={"feature_net": net} if net else {})
    return RunOutcome("abc", record, "ok", metrics=metrics, out_dir=None, budget="smoke")


def test_the_result_line_shows_a_paper_value_only_beside_the_same_feature_network():
    from dgmbench.console import run_row
    from dgmbench.plugins import load_registry

    reg = load_registry()
    domain = run_row(_outcome("domain", {"fid": 12.5, "kid": 0.1, "sample_n": 256.0}), reg)
    assert "fid [domain]" in domain and "kid [domain]" in domain and "(paper)" not in domain
    assert "sample_n" in domain and "sample_n [" not in domain
    inception = run_row(_outcome(None, {"fid": 12.5}), reg)
    assert "fid [inception]" in inception and "fid_inception (paper)" in inception


def test_runs_shows_no_nan_for_ad_hoc_runs(capsys):
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", "--grid-samples", "0"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    assert "nan" not in capsys.readouterr().out


def test_the_run_line_names_only_files_that_were_written(capsys):
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", "--grid-samples", "0"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "samples" not in last and "checkpoint" in last, last
    folder = Path(last.rsplit(" in ", 1)[1])
    assert (folder / "checkpoint.pt").is_file() and not (folder / "samples.png").exists()
    assert json.loads((folder / "record.json").read_text())["model"] == "gaussian"


def test_doctor_names_a_newer_schema(capsys):
    from dgmbench.store import SCHEMA_VERSION, Store

    Store(results())
    with sqlite3.connect(results()) as db:
        db.execute("PRAGMA user_version = 99")
    assert main(["doctor", str(results())]) == 1
    out = capsys.readouterr().out
    assert f"schema version 99, written by a newer dgmbench (this one's: {SCHEMA_VERSION})" in out
