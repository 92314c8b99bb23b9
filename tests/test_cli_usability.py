"""The first hour of a new user: misspelt names fail fast (before torch), listings fit the
terminal and agree with the README, an empty leaderboard says how to fill it, and eval scores a
subset of the test set and says where its result is."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from harness_helpers import run_cli

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("argv, needle", [
    (["run", "--plugin", "realnvp", "--dataset", "mnistt"], "unknown dataset 'mnistt'"),
    (["run", "--plugin", "realnvp", "--budget", "quik"], "unknown budget 'quik'"),
    (["run", "--plugin", "realnvp", "--metric", "nlll"], "unknown metric 'nlll'"),
    (["run", "--plugin", "realnvp", "--feature-net", "incepton"], "unknown feature network 'incepton'"),
    (["reproduce", "cifar10-bdp"], "unknown protocol 'cifar10-bdp'"),
    (["eval", "--checkpoint", "x.pt", "--plugin", "realnvp", "--dataset", "digit"], "unknown dataset 'digit'"),
])
def test_misspelt_names_fail_before_torch_is_imported(argv, needle):
    code = (f"import sys; from dgmbench.cli import main; rc = main({argv!r}); "
            "print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split()[-2:] == ["2", "False"], out.stdout + out.stderr
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_plugins_and_lists_fit_an_80_column_terminal():
    for argv in (["plugins"], ["list", "datasets"], ["list", "models"]):
        out = run_cli(*argv, env={"COLUMNS": "80"})
        assert out.returncode == 0, out.stderr
        assert max(map(len, out.stdout.splitlines())) <= 80, argv


def test_list_datasets_and_the_readme_name_the_same_datasets():
    out = run_cli("list", "datasets", env={"COLUMNS": "200"}).stdout
    listed = {line.split()[0] for line in out.splitlines()[2:] if line and not line.startswith(" ")}
    table = README.read_text().split("## Datasets", 1)[1].split("\n\n", 2)[1]
    documented = {name for row in table.splitlines()[2:] for name in re.findall(r"`([^`]+)`", row.split("|")[1])}
    assert "imagefolder:PATH" in listed
    assert listed == documented


def test_an_empty_leaderboard_says_how_to_fill_it(tmp_path):
    out = run_cli("leaderboard", "cifar10-bpd")
    assert out.returncode == 0
    (note,) = out.stderr.strip().splitlines()
    assert "holds no measured runs of cifar10-bpd" in note and "dgmbench reproduce cifar10-bpd" in note


def test_eval_scores_a_subset_and_names_no_missing_folder(tmp_path):
    """A state dict trained elsewhere (the uniform model has no weights: an empty one), scored on
    50 test examples."""
    import torch

    torch.save({}, tmp_path / "weights.pt")
    out = run_cli("eval", "--checkpoint", tmp_path / "weights.pt", "--plugin", "uniform", "--dataset", "digits",
                  "--max-test-examples", "50")
    assert out.returncode == 0, out.stderr
    assert "None" not in out.stdout and "evaluation only" in out.stdout
    db = sqlite3.connect(os.environ["DGMBENCH_RESULTS"])  # set per test by conftest
    n_test, budget, record = db.execute("SELECT n_test, budget, record FROM runs").fetchone()
    assert n_test == 50 and "max_test_examples=50" in budget
    assert json.loads(record)["overrides"]["max_test_examples"] == 50
