"""In-memory data splits and the dequantization that makes continuous densities comparable."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch


@dataclass
class DataSplit:
    """One split of a dataset, held in memory.

    ``x``: float tensor (N, *shape), pixels ``k / (levels - 1)`` in [0, 1] (real values for
    vector data); ``y``: integer labels or None; ``factors``: (N, n_factors) integer ground-truth
    factors or None. ``transform(x, generator=None)`` is applied to every batch of ``x`` when it is
    drawn, on the batch's device (dynamic binarization resamples the pixels each time; the test set
    passes a fixed-seed generator so every run sees the same draw). ``note`` records how complete
    the split is.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    factors: torch.Tensor | None = None
    transform: Callable[..., torch.Tensor] | None = None
    note: str = ""
    meta: dict = field(default_factory=dict)
    _sources: dict = field(default_factory=dict, repr=False, compare=False)  # device -> (x, y) to index

    def __len__(self) -> int:
        return len(self.x)

    @property
    def ground_truth(self):
        """The factor sampler of a dataset with ground-truth factors (``meta["ground_truth"]``), else
        None: an object with ``factor_names``, ``factor_sizes``, ``sample_factors(n, rng)`` (int
        (n, K)) and ``images_for_factors(factors, rng)`` (float (n, *shape)), as disentanglement_lib's
        GroundTruthData; the disentanglement metrics draw from it (see ``dgmbench.dsprites.FactorGrid``)."""
        return self.meta.get("ground_truth")

    def subset(self, n: int | None) -> "DataSplit":
        if n is None or n >= len(self):
            return self
        pick = lambda t: None if t is None else t[:n]
        return DataSplit(self.x[:n], pick(self.y), pick(self.factors), self.transform, self.note, self.meta)

    def steps_per_epoch(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def _source(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Where batches are cut from: on a GPU the whole split stays resident when it takes under a
        quarter of the free memory, else it is pinned so that copies do not block; on a CPU, itself."""
        if device.type != "cuda":
            return self.x, self.y
        key = str(device)
        if key not in self._sources:
            free, _ = torch.cuda.mem_get_info(device)
            size = self.x.nbytes + (self.y.nbytes if self.y is not None else 0)
            move = (lambda t: t.to(device)) if size < free // 4 else (lambda t: t.pin_memory())
            self._sources[key] = (move(self.x), None if self.y is None else move(self.y))
        return self._sources[key]

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu", wrap: bool = False, drop_last: bool = False,
                draw_generator: torch.Generator | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield (x, y) batches on ``device``, with ``transform`` applied to x there (with
        ``draw_generator`` when given). ``generator`` (CPU) draws the shuffle. ``wrap``: every batch
        is full -- the last one is topped up with the first examples of the same shuffle, so each
        example is used once per epoch and a few (under one batch) twice; ``drop_last`` drops a partial
        last batch instead."""
        device = torch.device(device)
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        if wrap and n % batch_size:
            pad = batch_size - n % batch_size
            order = torch.cat([order, order.repeat(-(-pad // n))[:pad]])
        elif drop_last and n >= batch_size:
            order = order[:n - n % batch_size]
        xs, ys = self._source(device)
        order = order.to(xs.device)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            x = xs[idx].to(device, non_blocking=True)
            y = None if ys is None else ys[idx].to(device, non_blocking=True)
            if self.transform is not None:
                x = self.transform(x) if draw_generator is None else self.transform(x, generator=draw_generator)
            yield x, y


def dequantize(x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantization: x = k / (L - 1) becomes y = (k + u) / L, u ~ U[0, 1).

    For a density p on [0, 1]^D, E_u[log p(y)] - D log L is a lower bound on the log-probability
    of the discrete x (Theis, van den Oord & Bethge 2016), so -log p(y) + D log L bounds the
    discrete NLL. Real-valued data (levels None) is returned unchanged.
    """
    if levels is None:
        return x
    k = torch.round(x * (levels - 1))
    if generator is None:
        u = torch.rand_like(x)
    else:  # drawn where the generator lives (the batch's device, normally)
        u = torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
    return (k + u) / levels


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw each pixel from Bernoulli(grey level), anew every time (Burda et al. 2016), on x's device."""
    return torch.bernoulli(x, generator=generator)
