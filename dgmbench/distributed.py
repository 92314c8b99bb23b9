"""Data-parallel training and evaluation of one run across the processes torchrun starts.

``torchrun --nproc_per_node N -m dgmbench run ...`` starts N copies of the command; each joins one
process group (NCCL on GPUs, gloo on CPUs) and uses its own device (``cuda:LOCAL_RANK``).

Training keeps the budget's work: every rank draws the same shuffle and the same *global* batch
of ``batch_size`` examples (and the same dequantization noise), and trains on its contiguous
1/N of it; before each optimizer step the gradients are averaged over the ranks,

    g = (1/N) sum_r grad L_r,  L_r = mean loss over rank r's B/N examples  =>  g = grad of the mean over B,

so N processes x batch B/N take the same steps as one process x batch B (up to float rounding).
That is the collective DistributedDataParallel performs, but done in a step pre-hook of each
optimizer rather than by wrapping the module: plugins own their training step (two optimizers for
GANs, a hand-written backward for RevNet) and never call ``forward``, and DDP's reducer is armed
only by ``DDP.forward``. Rank 0's parameters and buffers are broadcast at the start and at the
end (BatchNorm statistics), so every rank evaluates the same model. A step that clips gradients
clips each rank's before they are averaged (DDP would clip the average).

Evaluation: a metric that reduces over the test set asks for sharded batches
(``ctx.test_batches(shard=True)``: each rank scores its slice of every batch, drawn with the same
noise as in one process) and sums with :func:`all_sum` (NLL: sum of log p over all test examples
/ N; active units: the covariance sums of all ranks); sample features are gathered with
:func:`gather_rows`. Metrics that do neither see the whole test set on every rank. Only rank 0
writes: results rows, checkpoints, PNGs, hooks' files. So on ``--resume`` rank 0 reads its
checkpoint and sends it to the others (:func:`from_rank0`): every rank continues from the same step.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .errors import DgmbenchError


def launched() -> bool:
    """Started by torchrun (or another launcher that sets RANK and WORLD_SIZE). One process under
    torchrun joins a group of one, so ``--nproc_per_node 1`` runs every collective too."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(device: str = "auto") -> str:
    """Join the process group when launched by torchrun; returns the device this rank should use
    (``cuda:LOCAL_RANK`` for ``auto``/``cuda``, else ``device`` unchanged)."""
    if not launched() or active():
        return device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DgmbenchError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")
    if cuda:
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    import atexit

    atexit.register(shutdown)
    return device


def shutdown() -> None:
    if active():
        dist.destroy_process_group()


def check_batch_size(batch_size: int) -> None:
    if batch_size % world_size():
        raise DgmbenchError(f"batch size {batch_size} does not split over {world_size()} processes "
                            f"(use --batch-size a multiple of {world_size()})")


def share(n: int) -> int:
    """How many of ``n`` items are this rank's (the first ``n % world`` ranks take one more)."""
    return n // world_size() + (1 if rank() < n % world_size() else 0)


def shard(x: torch.Tensor, y: torch.Tensor | None = None):
    """This rank's contiguous slice of a global batch (the last ranks' may be smaller)."""
    if not active():
        return x, y
    r, n = rank(), world_size()
    pick = lambda t: None if t is None else torch.tensor_split(t, n)[r]
    return pick(x), pick(y)


def _broadcast_state(model) -> None:
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, src=0)


def _average_grads(optimizer, args, kwargs) -> None:
    """Optimizer step pre-hook: replace each gradient with its mean over the ranks (one all-reduce)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not params:
        return
    device = params[0].device
    # a gradient missing on one rank counts as zero there; the mask says which ranks had one
    flat = torch.cat([torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float(),
                                 torch.ones(1, device=device) if p.grad is not None else torch.zeros(1, device=device)])
                      for p in params])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        n = p.numel()
        if flat[offset + n] > 0:
            mean = (flat[offset:offset + n] / world_size()).view_as(p).to(p.dtype)
            if p.grad is None:
                p.grad = mean
            else:
                p.grad.copy_(mean)
        offset += n + 1


def prepare(model, optimizers) -> None:
    """Start every rank from rank 0's weights and average gradients before every optimizer step."""
    if not active():
        return
    _broadcast_state(model)
    for opt in optimizers:
        opt.register_step_pre_hook(_average_grads)


def finish(model) -> None:
    """After training: every rank holds rank 0's parameters and buffers (BatchNorm statistics)."""
    if active():
        _broadcast_state(model)


def all_sum(*values: float) -> tuple[float, ...]:
    """Each value summed over the ranks, in float64 (unchanged in one process)."""
    if not active():
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return tuple(t.tolist())


def all_sum_(tensors) -> None:
    """Sum tensors over the ranks, in place."""
    if active():
        for t in tensors:
            dist.all_reduce(t)


def any_rank(flag: bool) -> bool:
    """True on every rank when it is True on one (a stop decision all ranks must share)."""
    return bool(all_sum(float(flag))[0] > 0) if active() else flag


def gather_rows(array):
    """Concatenate a (n_r, ...) numpy array over the ranks, rank order (n_r may differ)."""
    import numpy as np

    if not active() or array is None:
        return array
    parts = [None] * world_size()
    dist.all_gather_object(parts, array)
    return np.concatenate(parts)


def from_rank0(obj):
    """Rank 0's ``obj`` on every rank (pickled and broadcast; unchanged in one process)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


def rank_results(results):
    """The results file this process writes: the given one on rank 0, a throwaway one on the
    others (only rank 0 stores the run)."""
    if is_main():
        return results
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    scratch = tempfile.mkdtemp(prefix=f"dgmbench-rank{rank()}-")
    atexit.register(shutil.rmtree, scratch, True)
    return Path(scratch) / "results.sqlite"
