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
    factors or None. ``transform`` is applied to every batch of ``x`` when it is drawn (dynamic
    binarization resamples the pixels each time). ``note`` records how complete the split is.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    factors: torch.Tensor | None = None
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    note: str = ""
    meta: dict = field(default_factory=dict)

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

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu", drop_last: bool = False
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield (x, y) batches on ``device``, with ``transform`` applied to x."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for i in range(0, stop, batch_size):
            idx = order[i:i + batch_size]
            x = self.x[idx]
            if self.transform is not None:
                x = self.transform(x)
            y = None if self.y is None else self.y[idx].to(device, non_blocking=True)
            yield x.to(device, non_blocking=True), y


def dequantize(x: torch.Tensor, levels: int | None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantization: x = k / (L - 1) becomes y = (k + u) / L, u ~ U[0, 1).

    For a density p on [0, 1]^D, E_u[log p(y)] - D log L is a lower bound on the log-probability
    of the discrete x (Theis, van den Oord & Bethge 2016), so -log p(y) + D log L bounds the
    discrete NLL. Real-valued data (levels None) is returned unchanged.
    """
    if levels is None:
        return x
    k = torch.round(x * (levels - 1))
    u = torch.rand(x.shape, generator=generator, device="cpu").to(x.device) if generator is not None \
        else torch.rand_like(x)
    return (k + u) / levels


def dynamic_binarize(x: torch.Tensor) -> torch.Tensor:
    """Draw each pixel from Bernoulli(grey level), anew every time (Burda et al. 2016)."""
    return torch.bernoulli(x)
