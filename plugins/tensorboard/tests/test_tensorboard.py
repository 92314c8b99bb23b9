"""The TensorBoard plugin, end to end: a real run writes event files that tensorboard's own
reader reads back (scalars at the steps trained, one sample grid per epoch, the config as text,
the final metrics); sampling for the grid leaves the run's random numbers untouched."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def read_events(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def test_a_run_writes_scalars_sample_grids_and_config(tmp_path):
    env = {**os.environ, "DGMBENCH_RESULTS": str(tmp_path / "results.sqlite"), "DGMBENCH_TENSORBOARD": "1",
           "DGMBENCH_TENSORBOARD_SAMPLES": "4"}
    # 64 examples in batches of 32: 2 steps an epoch; 3 epochs capped at smoke's 5 steps -> epochs end at 2, 4, 5
    out = subprocess.run([sys.executable, "-m", "dgmbench", "run", "--plugin", "realnvp", "--budget", "smoke",
                          "--epochs", "3", "--max-train-examples", "64", "--batch-size", "32", "--no-progress",
                          "--log-every", "2", "--config", "hidden=8"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    (logdir,) = (tmp_path / "runs").glob("*/tensorboard")
    events = read_events(logdir)
    loss = events.Scalars("train/loss")  # every 2 steps, and at each epoch's end (steps 2, 4, 5)
    assert [e.step for e in loss] == [2, 4, 5] and all(torch.isfinite(torch.tensor(e.value)) for e in loss)
    assert events.Scalars("test/bpd")[-1].step == 5  # the held-out curve ends at the last step
    assert [e.step for e in events.Scalars("train/epoch")] == [2, 4, 5]
    grids = events.Images("samples")
    assert [g.step for g in grids] == [2, 4, 5] and grids[0].width == grids[0].height > 32  # 2x2 grid of 32 px
    config = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"model": "realnvp"' in config and '"hidden": 8' in config
    bpd = events.Scalars("final/bpd")[0].value
    assert f"{bpd:.4f}" in out.stdout  # the value the run printed
    assert events.Tensors("status/text_summary")[0].tensor_proto.string_val[0] == b"ok"


def test_it_is_off_unless_switched_on(tmp_path, monkeypatch):
    from dgmbench_tensorboard import plugin as tb

    from dgmbench.specs import RunRecord

    monkeypatch.delenv("DGMBENCH_TENSORBOARD", raising=False)
    record = RunRecord(model="realnvp", dataset="digits")
    tb.dgmbench_run_start(record=record, model=None, out_dir=tmp_path)
    tb.dgmbench_run_end(record=record, results={"bpd": 1.0}, status="ok")
    assert not (tmp_path / "tensorboard").exists()


def test_drawing_the_grid_leaves_the_random_state_alone(tmp_path):
    from dgmbench_tensorboard import plugin as tb
    from torch.utils.tensorboard import SummaryWriter

    from dgmbench.plugins import load_registry
    from dgmbench.runner import build_model

    reg = load_registry()
    model = build_model(reg.model_for("realnvp"), reg.dataset("digits"), {"hidden": 8})
    before = torch.get_rng_state()
    writer = SummaryWriter(str(tmp_path / "tb"))
    tb._sample_grid(writer, model, step=1)
    writer.close()
    assert torch.equal(torch.get_rng_state(), before)
    assert len(read_events(tmp_path / "tb").Images("samples")) == 1
