"""The NLL planner: every call within its memory bound, and an estimate the plan cannot change."""
from __future__ import annotations

import math

import pytest
import torch

from dgmbench.data import DataSplit
from dgmbench.errors import DgmbenchError
from dgmbench.metrics import MetricContext, iw_plan
from dgmbench.metrics.likelihood import iw_log_likelihood
from dgmbench.model import Model
from dgmbench.specs import DatasetSpec

D = 6
PAD = 256  # float32 values each image-sample allocates: 1 KiB per unit


class Counted(Model):
    """Log weights that are a fixed function of (image, how many samples that image has drawn):
        log w_s(x) = 3 sin(0.37 s + sum(x)) - |x|^2,   s = 0, 1, 2, ...
    so any plan that draws exactly k samples per image sees the same k weights. Every call
    allocates PAD floats per image-sample and records the largest call (images x samples)."""

    likelihood = "continuous"

    def __init__(self):
        super().__init__({})
        self.seen, self.largest, self.calls = {}, 0, 0

    def log_importance_weights(self, x, k):
        self.largest, self.calls = max(self.largest, len(x) * k), self.calls + 1
        pad = torch.ones(k, len(x), PAD)
        out = []
        for row in x:
            key = row.numpy().tobytes()
            start = self.seen.get(key, 0)
            self.seen[key] = start + k
            s = torch.arange(start, start + k, dtype=torch.float64)
            out.append(3 * torch.sin(0.37 * s + row.double().sum()) - row.double().pow(2).sum())
        return torch.stack(out, 1) + 0 * pad[..., 0]

    def elbo(self, x):
        return self.log_importance_weights(x, 1)[0]


def ctx_for(model, n=40, **options):
    x = torch.randn(n, D, generator=torch.Generator().manual_seed(0))
    spec = DatasetSpec("vectors", load="x:y", shape=(D,), levels=None)
    return MetricContext(model=model, dataset=spec, test=DataSplit(x), device=torch.device("cpu"),
                         options=options, batch_size=16, seed=3)


@pytest.fixture(autouse=True)
def _fresh_cache():
    iw_plan._CACHE.clear()
    yield
    iw_plan._CACHE.clear()


@pytest.mark.parametrize("cap", [40_000, 150_000, 600_000])
def test_no_call_exceeds_the_memory_bound(cap):
    model = Counted()
    ctx = ctx_for(model, nll_max_bytes=cap)
    batch, chunk = iw_plan.plan(ctx, 500)
    iw_log_likelihood(ctx, 500)
    assert model.largest * PAD * 4 <= cap  # the probe's calls included
    assert batch * chunk * PAD * 4 <= cap
    assert model.largest >= cap // (PAD * 4) // 4  # and it does use the room it has (within the x2 steps)


def test_a_fixed_image_count_gets_the_samples_that_fit():
    model = Counted()
    ctx = ctx_for(model, nll_batch=8, nll_max_bytes=100_000)
    batch, chunk = iw_plan.plan(ctx, 500)
    assert batch == 8 and 1 <= chunk and batch * chunk * PAD * 4 <= 100_000


def test_a_bound_below_one_call_is_one_line():
    with pytest.raises(DgmbenchError, match="nll_max_bytes"):
        iw_plan.plan(ctx_for(Counted(), nll_max_bytes=100), 500)


def test_estimate_does_not_depend_on_the_plan():
    k = 120
    values = []
    for options in ({"nll_batch": 1, "nll_chunk": 7}, {"nll_batch": 13, "nll_chunk": 120}, {}):
        torch.manual_seed(0)
        model = Counted()
        ctx = ctx_for(model, **options)
        iw_plan.plan(ctx, k)  # the probe (cached now) draws too: start the count after it
        model.seen.clear()
        est = iw_log_likelihood(ctx, k)
        assert all(v == k for v in model.seen.values()) and len(model.seen) == 40
        values.append((est["log_p_sum"], est["nll_elbo"]))
    x = ctx_for(Counted()).test.x.double()
    s = torch.arange(k, dtype=torch.float64)
    log_w = 3 * torch.sin(0.37 * s[:, None] + x.sum(1)) - x.pow(2).sum(1)
    exact = (torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
    for log_p_sum, elbo in values:
        assert log_p_sum == pytest.approx(exact, abs=1e-6)
        assert elbo == pytest.approx(values[0][1], abs=1e-6)


def test_the_probe_is_cached_and_does_not_move_the_rng():
    model = Counted()
    ctx = ctx_for(model)
    torch.manual_seed(5)
    first = iw_plan.plan(ctx, 500)
    after_probe = torch.rand(1)
    calls = model.calls
    torch.manual_seed(5)
    iw_plan._CACHE.clear()  # the disk cache ($DGMBENCH_CACHE) answers now
    assert iw_plan.plan(ctx, 500) == first and model.calls == calls
    assert torch.equal(torch.rand(1), after_probe)


def test_choose_takes_the_fastest_call_that_fits():
    entry = {"fixed_bytes": 0.0, "bytes_per_unit": 10.0,
             "seconds_per_unit": {"256": 3e-5, "1024": 1e-5, "4096": 2e-5}}
    assert iw_plan.choose(entry, 5000, 100, bound=10 ** 9) == (1, 1000)   # 1024 units: 5 chunks of 1000
    assert iw_plan.choose(entry, 5000, 100, bound=5000) == (1, 250)       # only 256 units fit
    assert iw_plan.choose(entry, 5000, 100, bound=100) == (1, 10)         # nothing measured fits: 10 units


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs CUDA (owed: benchmarks/gpu-queue, item gpu-benchmarks)")
def test_cuda_calls_stay_within_the_free_memory_bound():
    """On CUDA the bound is GPU_MEMORY_FRACTION of the free memory: the allocator's peak over the
    whole estimate (probe included) stays under it."""
    device = torch.device("cuda")

    class Big(Counted):
        def log_importance_weights(self, x, k):
            pad = torch.ones(k, len(x), PAD, device=x.device)  # 1 KiB per image-sample on the device
            return pad[..., 0] * 0 + x.sum(1)

    model = Big()
    x = torch.randn(64, D)
    spec = DatasetSpec("vectors", load="x:y", shape=(D,), levels=None)
    ctx = MetricContext(model=model, dataset=spec, test=DataSplit(x), device=device, batch_size=64, seed=0)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    bound = iw_plan.memory_bound(device, {})
    torch.cuda.reset_peak_memory_stats()
    iw_log_likelihood(ctx, 200_000)
    assert torch.cuda.max_memory_allocated() - base <= bound
