"""Training in work, not time: step budgets, truncation, every example used, one-call fits, curves,
NaN caught within log_every steps, fixed test draws. Tiny models on a 70-example toy set (in-process)."""
from __future__ import annotations

import math
import sqlite3
import types

import pytest
import torch

from dgmbench import hookimpl
from dgmbench.data import DataSplit, dynamic_binarize
from dgmbench.errors import TrainingDiverged
from dgmbench.model import Model
from dgmbench.plugins import load_registry
from dgmbench.runner import execute
from dgmbench.specs import Cell, DatasetSpec, ModelSpec, ProtocolSpec, RunRecord

N_TRAIN, N_TEST = 70, 30  # 70 is not a multiple of the batch size 32
SEEN: list = []           # ids of the training examples the recorder model was fed


def load_counting(split, root=None, download=False):
    """x = (id, id mod 7 / 7) for id = 0..N-1: the first coordinate names the example."""
    n = N_TRAIN if split == "train" else N_TEST
    ids = torch.arange(n, dtype=torch.float32) + (0 if split == "train" else 1000)
    return DataSplit(torch.stack([ids, (ids % 7) / 7], 1))


class Recorder(Model):
    """N(mu, I) on the second coordinate; records every example id it is fed; NaN at step ``nan_at``."""

    def __init__(self, config=None):
        super().__init__(config)
        self.mu = torch.nn.Parameter(torch.zeros(1))

    def log_prob(self, x):
        return torch.distributions.Normal(self.mu, 1.0).log_prob(x[:, 1:]).sum(1)

    def train_step(self, x, y, optimizers, step, autocast):
        SEEN.extend(int(i) for i in x[:, 0])
        logs = super().train_step(x, y, optimizers, step, autocast)
        if step + 1 == self.config.get("nan_at"):
            logs["loss"] = logs["loss"] * float("nan")
        return logs


class ClosedForm(Model):
    """N(m, s^2) on the second coordinate, m and s the training mean and std, fitted in one call."""

    def __init__(self, config=None):
        super().__init__(config)
        self.register_buffer("m", torch.zeros(()))
        self.register_buffer("s", torch.ones(()))

    def fit(self, x, y=None):
        self.m.copy_(x[:, 1].mean())
        self.s.copy_(x[:, 1].std(unbiased=False))
        return {"examples": len(x)}

    def log_prob(self, x):
        return torch.distributions.Normal(self.m, self.s).log_prob(x[:, 1])


class Fixed(Model):
    """N(0, 1) on the second coordinate: no parameters, nothing to train."""

    def log_prob(self, x):
        return torch.distributions.Normal(0.0, 1.0).log_prob(x[:, 1])


def _plugin():
    p = types.SimpleNamespace()
    p.dgmbench_datasets = hookimpl(lambda: [DatasetSpec("counting", load_counting, shape=(2,), levels=None)])
    p.dgmbench_models = hookimpl(lambda: [
        ModelSpec("recorder", lambda ds, cfg: Recorder(cfg), ["log_prob"]),
        ModelSpec("closed-form", lambda ds, cfg: ClosedForm(cfg), ["log_prob"]),
        ModelSpec("fixed", lambda ds, cfg: Fixed(cfg), ["log_prob"])])
    p.dgmbench_protocols = hookimpl(lambda: [ProtocolSpec(
        "toy", "1", cells=[Cell("rec", "recorder", "counting", labels={"model": "rec"})], metrics=["nll"],
        values=["nll"])])
    return p


@pytest.fixture
def reg():
    return load_registry({"toy-training": _plugin()})


def _run(reg, tmp_path, model="recorder", budget="smoke", **kw):
    SEEN.clear()
    record = RunRecord(model=model, dataset="counting", budget=budget, device="cpu", **kw)
    return execute(record, results=tmp_path / "r.sqlite", progress=False, reg=reg)


def _rows(tmp_path, sql, *args):
    db = sqlite3.connect(tmp_path / "r.sqlite")
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute(sql, args)]


def test_a_budget_is_the_same_steps_and_the_same_numbers_on_every_run(reg, tmp_path):
    a, b = _run(reg, tmp_path, overrides={"epochs": 2}), _run(reg, tmp_path, overrides={"epochs": 2})
    runs = _rows(tmp_path, "SELECT * FROM runs ORDER BY created")
    assert [r["steps"] for r in runs] == [5, 5] and [r["planned_steps"] for r in runs] == [5, 5]  # smoke: 5 steps
    assert [r["status"] for r in runs] == ["ok", "ok"] and runs[0]["stopped"] is None
    assert a.metrics["nll"] == b.metrics["nll"]  # bit-identical: nothing depends on the clock


def test_max_seconds_truncates_the_run_and_the_leaderboard_marks_the_cell(reg, tmp_path):
    from dgmbench import leaderboard
    from dgmbench.store import Store

    out = _run(reg, tmp_path, budget="quick", protocol="toy", cell="rec", overrides={"max_seconds": 1e-9})
    (run,) = _rows(tmp_path, "SELECT * FROM runs")
    assert run["status"] == "truncated" and out.status == "truncated"
    # 70 examples: 2 batches of 64
    assert (run["steps"], run["planned_steps"], run["planned_epochs"]) == (1, 30 * 2, 30)
    assert run["stopped"] == "stopped by --max-seconds 1e-09 after 1 of 60 steps" == out.stopped
    assert run["budget"] == "quick"  # a safety cap is not work: the budget keeps its name
    df, caption = leaderboard.build(reg.get("protocols", "toy"), Store(tmp_path / "r.sqlite"))
    assert df["nll (ours) truncated"].tolist() == [1]
    text = leaderboard.export(df, caption, "md")
    assert f"{out.metrics['nll']:.3f} {leaderboard.TRUNCATED}" in text and "truncated ones (1 runs)" in text


def test_every_training_example_is_fed_and_n_train_counts_them(reg, tmp_path):
    _run(reg, tmp_path, overrides={"epochs": 1})
    assert sorted(set(SEEN)) == list(range(N_TRAIN)) and len(SEEN) == 3 * 32  # the shuffle wraps
    _run(reg, tmp_path, overrides={"max_steps": 2})
    assert len(set(SEEN)) == 64
    runs = _rows(tmp_path, "SELECT n_train, steps, planned_steps FROM runs ORDER BY created")
    assert runs == [{"n_train": N_TRAIN, "steps": 3, "planned_steps": 3},
                    {"n_train": 64, "steps": 2, "planned_steps": 2}]


def test_closed_form_fit_and_parameter_free_models_run_end_to_end(reg, tmp_path):
    train, test = load_counting("train").x[:, 1].double(), load_counting("test").x[:, 1].double()
    fitted = _run(reg, tmp_path, model="closed-form")
    m, s = train.mean(), train.std(unbiased=False)
    expected = (0.5 * math.log(2 * math.pi) + torch.log(s) + 0.5 * ((test - m) / s) ** 2).mean()
    assert fitted.status == "ok" and fitted.metrics["nll"] == pytest.approx(float(expected), rel=1e-5)
    fixed = _run(reg, tmp_path, model="fixed")
    assert fixed.status == "ok"
    assert fixed.metrics["nll"] == pytest.approx(float((0.5 * math.log(2 * math.pi) + 0.5 * test ** 2).mean()), 1e-5)
    runs = _rows(tmp_path, "SELECT steps, n_train FROM runs ORDER BY created")
    assert runs == [{"steps": 0, "n_train": N_TRAIN}, {"steps": 0, "n_train": 0}]


def test_history_logs_every_n_steps_and_the_curve_ends_at_the_final_nll(reg, tmp_path):
    out = _run(reg, tmp_path, overrides={"max_steps": 7, "log_every": 2, "eval_every": 3, "epochs": 5})
    hist = _rows(tmp_path, "SELECT step, name, value FROM history WHERE run_id = ?", out.run_id)
    assert [h["step"] for h in hist if h["name"] == "train/loss"] == [2, 3, 4, 6, 7]  # every 2nd, and epoch ends (3, 6)
    curve = [(h["step"], h["value"]) for h in hist if h["name"] == "test/nll"]
    assert [s for s, _ in curve] == [3, 6, 7]
    assert curve[-1][1] == pytest.approx(out.metrics["nll"], abs=1e-9)  # exact density, same test subset
    assert (out.out_dir / "curves.png").is_file()


def test_a_loss_that_turns_nan_stops_the_run_within_log_every_steps_naming_the_step(reg, tmp_path):
    with pytest.raises(TrainingDiverged, match=r"loss = nan at step 5 \(epoch 2\)"):
        _run(reg, tmp_path, config={"nan_at": 5}, overrides={"max_steps": 40, "epochs": 20,
                                                                                  "log_every": 4})
    (run,) = _rows(tmp_path, "SELECT status, steps, error FROM runs")
    assert run["status"] == "failed" and 5 <= run["steps"] <= 5 + 4 and "step 5" in run["error"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_binarization_on_the_device_has_the_same_distribution(device):
    grey = torch.rand(4000, 784, generator=torch.Generator().manual_seed(0))
    split = DataSplit(grey, transform=dynamic_binarize)
    g = torch.Generator(device=device).manual_seed(1)
    drawn = torch.cat([x.cpu() for x, _ in split.batches(500, device=device, draw_generator=g)])
    assert set(drawn.unique().tolist()) == {0.0, 1.0}
    assert abs(drawn.mean().item() - grey.mean().item()) < 1e-3  # E[Bernoulli(p)] = p, over 3.1M pixels
    torch.manual_seed(2)  # the former draw: on the CPU, from the global generator
    before = torch.bernoulli(grey)
    assert abs(drawn.mean().item() - before.mean().item()) < 1e-3


def test_every_run_scores_the_same_draw_of_a_stochastic_test_set(reg):
    from dgmbench.metrics import MetricContext

    test = DataSplit(torch.rand(64, 10, generator=torch.Generator().manual_seed(0)), transform=dynamic_binarize)
    ds = DatasetSpec("grey", load_counting, shape=(10,), levels=2)
    draws = [torch.cat([x for x, _ in MetricContext(model=Fixed(), dataset=ds, test=test, device=torch.device("cpu"),
                                                     seed=seed, batch_size=16).test_batches()]) for seed in (0, 1)]
    assert torch.equal(draws[0], draws[1])
