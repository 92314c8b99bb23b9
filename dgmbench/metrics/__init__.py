"""Metrics: functions of a trained model and a dataset (see :class:`MetricContext`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from .. import distributed
from ..data import DataSplit
from ..model import model_input_for  # noqa: F401  (what metrics feed a model; also importable from here)
from ..specs import DatasetSpec

#: the seed of every test set's random draws (the same for all runs, models and seeds)
TEST_DRAW_SEED = 4321


@dataclass
class MetricContext:
    """What a metric's ``compute(ctx)`` receives.

    ``options`` holds the budget's metric options and any user overrides (``nll_k``,
    ``fid_samples``, ``feature_net``...). ``train`` is loaded on first use.
    """

    model: Any
    dataset: DatasetSpec
    test: DataSplit
    device: torch.device
    options: dict = field(default_factory=dict)
    batch_size: int = 256
    seed: int = 0
    out_dir: Path | None = None
    registry: Any = None
    load_train: Any = None  # callable returning the train DataSplit
    #: callable split -> the dataset's whole split, uncapped by the budget (None: not available);
    #: feature networks trained once per dataset (``domain``) learn from it
    load_full: Any = None
    _train: DataSplit | None = None

    @property
    def train(self) -> DataSplit:
        if self._train is None:
            self._train = self.load_train()
        return self._train

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded from the run's seed, so metric noise is reproducible."""
        return torch.Generator().manual_seed(10_000 + self.seed + offset)

    def test_batches(self, batch_size: int | None = None, model_input: bool = True, shard: bool = False
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Test batches on the device; with ``model_input`` continuous models get dequantized x.
        With ``shard``, under torchrun each process gets its slice of every batch (drawn as in one
        process); the metric then sums over the processes (:func:`dgmbench.distributed.all_sum`).

        The test set's random draws (dynamic binarization, dequantization noise) come from a
        generator with a fixed seed, :data:`TEST_DRAW_SEED`, not the run's: every run and every
        seed is scored on the same draw, so the spread over seeds measures training alone."""
        g = torch.Generator(device=self.device).manual_seed(TEST_DRAW_SEED)
        torch.manual_seed(self.seed)  # the model's own noise (importance samples...) follows the run's seed
        for x, y in self.test.batches(batch_size or self.batch_size, device=self.device, draw_generator=g):
            if model_input:
                x = model_input_for(self.model, self.dataset, x, g)
            if shard:
                x, y = distributed.shard(x, y)
            yield x, y


# The public array-level API (docs/metrics.md): metrics of your own arrays and models.
from .arrays import (  # noqa: E402,F401
    fid_from_features,
    importance_sampled_nll,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
