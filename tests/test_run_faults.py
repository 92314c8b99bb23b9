"""Faults on the run path: weights that turn NaN while the logs stay finite, a full disk while
the run writes its files, a missing dataset. Each stores what the README promises (``partial``
and exit 1 when metrics cannot be computed; ``failed`` with one line saying the disk is full;
nothing at all for bad input) and never leaves a row ``running`` or an empty run folder."""
from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from harness_helpers import make_plugin

from dgmbench.cli import main

NAN_WEIGHTS = '''
import torch
from dgmbench import ModelSpec, hookimpl
from dgmbench.model import Model


class Drifting(Model):
    """A diagonal Gaussian whose mean turns NaN after step 2 while the loss it logs stays finite
    (as a model whose loss is computed before a bad update would)."""

    def __init__(self, d):
        super().__init__({})
        self.mu = torch.nn.Parameter(torch.zeros(d))
        self.log_s = torch.nn.Parameter(torch.zeros(d))

    def log_prob(self, x):
        return torch.distributions.Normal(self.mu, self.log_s.exp()).log_prob(x.flatten(1)).sum(1)

    def train_step(self, x, y, optimizers, step, autocast):
        if step < 2:
            return super().train_step(x, y, optimizers, step, autocast)
        with torch.no_grad():
            self.mu.fill_(float("nan"))
        return {"loss": torch.tensor(1.0)}


@hookimpl
def dgmbench_models():
    return [ModelSpec("drifting", "nanplug:build", ["log_prob"], description="weights turn NaN")]


def build(ds, config):
    return Drifting(ds.dims)
'''

SMOKE = ["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", "--grid-samples", "4"]


def rows():
    con = sqlite3.connect("results/results.sqlite")
    try:
        return con.execute("SELECT status, error, out_dir FROM runs").fetchall()
    finally:
        con.close()


def test_weights_turning_nan_with_finite_logs_is_partial_exit_1(plugin_path, capsys):
    make_plugin(plugin_path, "nanplug", NAN_WEIGHTS)
    code = main(["run", "--plugin", "drifting", "--budget", "smoke", "--max-steps", "4", "--no-progress"])
    out = capsys.readouterr()
    assert code == 1, out
    ((status, error, _),) = rows()
    assert status == "partial" and "weights are not finite" in error and "mu" in error
    assert "weights are not finite" in out.err and "Traceback" not in out.err


def _disk_fills_at(monkeypatch, name: str):
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)


def test_a_full_disk_writing_the_run_record_leaves_the_row_failed(monkeypatch, capsys):
    _disk_fills_at(monkeypatch, "record.json")
    assert main(SMOKE) == 2
    err = capsys.readouterr().err
    assert "disk full" in err and "record.json" in err and "unexpected" not in err
    ((status, error, _),) = rows()
    assert status == "failed" and "disk full" in error


def test_a_full_disk_writing_the_samples_leaves_the_row_failed(monkeypatch, capsys):
    import dgmbench.artifacts

    def full(model, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(dgmbench.artifacts, "save_samples", full)
    assert main(SMOKE) == 2
    err = capsys.readouterr().err
    assert "disk full" in err and "samples.png" in err and "unexpected" not in err
    ((status, error, _),) = rows()
    assert status == "failed" and "disk full" in error


def test_a_missing_dataset_stores_nothing_and_names_the_data_root(tmp_path, capsys):
    assert main(["run", "--plugin", "gaussian", "--dataset", "mnist", "--data-root", str(tmp_path / "empty"),
                 "--results", str(tmp_path / "out" / "r.sqlite"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--data-root" in err or "DGMBENCH_DATA" in err
    assert not (tmp_path / "out").exists()  # no results file, no empty run folder


def test_the_stored_line_names_only_the_files_written(capsys):
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", "--grid-samples", "0"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if " stored" in x]
    ((_, _, out_dir),) = rows()
    assert not (Path(out_dir) / "samples.png").exists() and "samples" not in line
    assert (Path(out_dir) / "checkpoint.pt").exists() and "checkpoint" in line
