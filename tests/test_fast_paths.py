"""The training loop's fast paths (a budget's ``fast``, ``--fast``): on a CPU each is a no-op
(``compile``, ``fp32``) or gives the eager numbers to float rounding (``channels_last``,
``fused_adam``), and an unknown name is one line before anything runs."""
from __future__ import annotations

import pytest
import torch

from dgmbench.cli import main
from dgmbench.data import DataSplit
from dgmbench.errors import DgmbenchError
from dgmbench.model import Model
from dgmbench.plan import FAST_PATHS, fast_paths
from dgmbench.specs import Budget, DatasetSpec
from dgmbench.training import Hooks, TrainingRun, apply_fast_paths, fit

SPEC = DatasetSpec("tiny-images", load="x:y", shape=(1, 8, 8), levels=None)


class TinyConv(Model):
    """A conv net density stand-in: a squared error through a conv and a linear layer."""

    likelihood = "none"

    def __init__(self):
        super().__init__({})
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * 8 * 8, 1)

    def loss(self, x, y=None):
        return self.head(torch.relu(self.conv(x)).flatten(1)).pow(2).mean()


def trained(fast=()) -> dict:
    torch.manual_seed(0)
    model = TinyConv()
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    fit(model, DataSplit(x), TrainingRun(SPEC, Budget("t", epochs=2, batch_size=8, lr=0.01, fast=fast), seed=2),
        Hooks(progress=False))
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()}


def test_no_op_paths_on_a_cpu_give_the_eager_weights_bit_for_bit():
    eager = trained()
    same = trained(("compile", "fp32"))
    assert all(torch.equal(eager[k], same[k]) for k in eager)


def test_channels_last_and_fused_adam_give_the_eager_weights_to_rounding():
    eager = trained()
    fast = trained("channels_last,fused_adam")  # as --fast gives it
    for k in eager:
        torch.testing.assert_close(fast[k], eager[k], rtol=1e-5, atol=1e-6)


def test_the_paths_are_applied():
    model = TinyConv()
    opts = model.configure_optimizers(0.01)
    apply_fast_paths(model, opts, torch.device("cpu"), ("channels_last", "fused_adam"))
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(g["fused"] for g in opts[0].param_groups)


def test_an_unknown_fast_path_is_one_line(capsys):
    with pytest.raises(DgmbenchError, match="choose from"):
        fast_paths("channels_last,warp")
    assert fast_paths(("fused_adam",)) == {"fused_adam"} and set(FAST_PATHS) >= {"compile", "channels_last"}
    assert main(["run", "--plugin", "gaussian", "--budget", "smoke", "--fast", "warp", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'warp' is not a fast path" in err and len(err.strip().splitlines()) == 1
