"""RevNet's recomputing backward against plain autograd, block inversion, and the memory it saves."""
from __future__ import annotations

import copy
import gc
import weakref
from types import SimpleNamespace

import pytest
import torch
from dgmbench_reversible import resnet, revnet
from dgmbench_reversible.reversible import ReversibleBlock, reversible_sequence
from rev_helpers import randomize
from torch import nn

from dgmbench.metrics.training_cost import step_memory

TINY = SimpleNamespace(name="tiny", shape=(3, 8, 8), num_classes=5)
CFG = {"filters": [4, 4, 8, 8], "augment": False}


def tiny_revnet(units=(3, 3, 3), memory_saving=True, dtype=torch.float64):
    torch.manual_seed(0)
    return revnet.build(TINY, {**CFG, "units": list(units), "memory_saving": memory_saving}).to(dtype).train()


def batch(n=6, dtype=torch.float64, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *TINY.shape, generator=g, dtype=dtype), torch.randint(0, 5, (n,), generator=g)


def test_recomputing_backward_gives_autograds_gradients():
    """float64: the reversible backward reconstructs the inputs and reproduces every gradient (and
    BatchNorm's running statistics are updated once, not twice)."""
    rev = tiny_revnet()
    plain = copy.deepcopy(rev)
    plain.memory_saving = False
    assert rev.memory_saving and not plain.memory_saving
    x, y = batch()
    rev.loss(x, y).backward()
    plain.loss(x, y).backward()
    pairs = list(zip(rev.named_parameters(), plain.named_parameters()))
    assert len(pairs) > 40
    for (name, a), (_, b) in pairs:
        assert a.grad is not None and torch.allclose(a.grad, b.grad, rtol=0, atol=1e-8), name
    for (name, a), (_, b) in zip(rev.named_buffers(), plain.named_buffers()):
        assert torch.allclose(a.double(), b.double(), rtol=0, atol=1e-12), name


def test_same_loss_trajectory_over_sgd_steps():
    rev = tiny_revnet((2, 2, 2))
    plain = copy.deepcopy(rev)
    plain.memory_saving = False
    losses = {}
    for name, net in (("rev", rev), ("plain", plain)):
        opts = net.configure_optimizers(0.1)
        losses[name] = [float(net.train_step(*batch(seed=s), opts, s, None)["loss"]) for s in range(3)]
    assert losses["rev"][0] != losses["rev"][-1]  # it trains
    assert losses["rev"] == pytest.approx(losses["plain"], rel=0, abs=1e-8)


def test_block_inverts_to_float32_precision():
    torch.manual_seed(0)
    f = nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    g = nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    block = randomize(ReversibleBlock(f, g)).eval()
    x = torch.randn(5, 8, 6, 6)
    with torch.no_grad():
        y = block(x)
        assert (y - x).abs().max() > 0.1  # not the identity
        assert (block.inverse(y) - x).abs().max() < 1e-6


def saved(model, x, y):
    return step_memory(model, x, y, torch.device("cpu"))["saved_mib"]


def test_saved_bytes_flat_in_depth_for_revnet_growing_for_resnet():
    """RevNet: one activation per stage plus the downsampling units, whatever the depth; ResNet
    (and the same RevNet on plain autograd) stores every unit's activations."""
    x, y = batch(8, torch.float32)
    rev = [saved(tiny_revnet(u, dtype=torch.float32), x, y) for u in ((3, 3, 3), (9, 9, 9))]  # as 38 vs 110
    assert rev[1] <= 1.02 * rev[0]
    res = [saved(resnet.build(TINY, {**CFG, "units": list(u)}).train(), x, y) for u in ((2, 2, 2), (6, 6, 6))]
    assert res[1] > 2 * res[0]


def test_without_the_custom_backward_saved_bytes_grow():
    """The flag that turns the recomputing backward off makes the flatness above fail."""
    x, y = batch(8, torch.float32)
    plain = [saved(tiny_revnet(u, memory_saving=False, dtype=torch.float32), x, y) for u in ((3, 3, 3), (9, 9, 9))]
    assert plain[1] > 2 * plain[0]


def test_no_block_output_outlives_the_forward_pass():
    """The custom Function keeps no activation outside save_for_backward (which the meter sees):
    every reversible block's output but the stage's last is freed once the forward pass is done."""
    def outputs_alive(memory_saving):
        net = tiny_revnet((4, 4, 4), memory_saving, torch.float32)
        refs = []
        for stage in net.stages:
            for block in list(stage.blocks)[:-1]:
                block.register_forward_hook(lambda m, i, o: refs.append(weakref.ref(o)))
        loss = net.loss(*batch(4, torch.float32))
        gc.collect()
        alive, hooked = sum(r() is not None for r in refs), len(refs)
        loss.backward()
        return alive, hooked

    alive, hooked = outputs_alive(True)
    assert hooked == 6 and alive == 0  # 3 stages x the 2 blocks before each stage's last
    assert outputs_alive(False)[0] > 0  # plain autograd keeps (views of) them for backward


def test_reversible_sequence_is_plain_without_grad():
    blocks = nn.ModuleList([ReversibleBlock(nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1))])
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        assert torch.equal(reversible_sequence(x, blocks), blocks[0](x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_flat_in_depth_for_revnet():
    """On a GPU the allocator's peak tells the same story as the saved-tensor count."""
    dev = torch.device("cuda")
    x, y = (t.to(dev) for t in batch(64, torch.float32))

    def peak(units, memory_saving=True):
        net = tiny_revnet(units, memory_saving, torch.float32).to(dev)
        return step_memory(net, x, y, dev)["cuda_peak_mib"]

    assert peak((8, 8, 8)) <= 1.3 * peak((2, 2, 2))
    assert peak((8, 8, 8), False) > 2 * peak((2, 2, 2), False)
