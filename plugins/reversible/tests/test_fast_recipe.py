"""The gpu budget's fast recipe: the one-cycle learning rate and label smoothing (classifier.py)."""
import pytest
import torch
import torch.nn.functional as F
from dgmbench_reversible.classifier import Classifier


class Linear(Classifier):
    def __init__(self, config):
        super().__init__(config)
        self.fc = torch.nn.Linear(3 * 4 * 4, 10)

    def logits(self, x):
        return self.fc(x.flatten(1))


def test_onecycle_rises_then_falls_to_base_over_2500():
    m = Linear({"lr_schedule": "onecycle", "onecycle_steps": 1000})
    lrs = [m.lr_at(s, 0.4) for s in range(1000)]
    assert lrs[0] == pytest.approx(0.4 / 25)
    assert max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 250  # the peak at 25 % of the steps
    assert all(a <= b for a, b in zip(lrs[:250], lrs[1:251]))  # rises
    assert all(a >= b for a, b in zip(lrs[250:], lrs[251:]))  # falls
    assert m.lr_at(1000, 0.4) == pytest.approx(0.4 / 2500)
    assert Linear({}).lr_at(999, 0.4) == 0.4  # the paper's milestones (40,000 / 60,000) by default


def test_label_smoothing_reaches_the_loss():
    x, y = torch.rand(8, 3, 4, 4), torch.randint(0, 10, (8,))
    plain, smooth = Linear({"augment": False}), Linear({"augment": False, "label_smoothing": 0.1})
    smooth.load_state_dict(plain.state_dict())
    logits = plain.classify(x)
    assert plain.loss(x, y).item() == pytest.approx(F.cross_entropy(logits, y).item())
    assert smooth.loss(x, y).item() == pytest.approx(F.cross_entropy(logits, y, label_smoothing=0.1).item())
    assert smooth.loss(x, y).item() != pytest.approx(plain.loss(x, y).item())
