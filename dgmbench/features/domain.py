"""``domain``: a small CNN classifier trained once per dataset on its labeled train split.

For data far from ImageNet (8x8 digits, MNIST, binarized images) and for machines with no
Inception weights, a classifier of the dataset's own classes gives the features (the 256-d
penultimate layer) and the logits (for the Inception Score) -- the "domain-specific" FID/IS of
e.g. Lucic et al. 2018 ("Are GANs created equal?") on MNIST. Its numbers are only comparable
with other numbers from the same trained network: the weights hash is the version that keys the
reference statistics, and the test accuracy is recorded in the cache and in every metric output
(``feature_net_accuracy``).

Training (recipe ``domain-cnn-v2``): the dataset's whole train split when the metric context can
load it (``ctx.load_full``; else the run's own, possibly capped, split), AdamW (lr 2e-3, weight
decay 5e-4) with a cosine decay to 0, batch 128, ``domain_net_steps`` steps (set by the budget:
300 smoke, 2000 quick, 5000 cpu, gpu and full), seed 0; batch norm after every convolution; each batch randomly
shifted by up to 1/8 of the image size (reflection padding) and, for photographs
(:data:`FLIPPED`: CIFAR, CelebA), flipped left-right -- the standard CIFAR augmentation, which a
digit must not get. The test accuracy on the whole test split is recorded; a leaderboard refuses
the network's sample metrics below a stated bar (:mod:`dgmbench.trained`: 0.70 on CIFAR-10). The
trained weights are cached in ``$DGMBENCH_CACHE/domain`` under a hash of the dataset name, both
splits' contents and the recipe.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings

import torch
from torch import nn

from ..errors import DgmbenchError
from . import FeatureNet, cache_dir, data_hash, safe_name, sha256_bytes

ARCH_VERSION = "domain-cnn-v2"
FEATURE_DIM = 256
#: datasets of photographs, whose classes do not change under a left-right flip (a digit's do)
FLIPPED = ("cifar10", "cifar100", "celeba")


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class DomainClassifier(nn.Module):
    """conv(32) -> conv(64, /2) -> conv(128, /2), each with batch norm -> global average ->
    fc(256) [features] -> fc(K). Small on purpose: it is trained on a CPU too (a smoke run trains
    it in seconds), once per dataset."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            *_conv(channels, 32), *_conv(32, 64, 2), *_conv(64, 128, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(128, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x):
        h = self.body(x)
        return h, self.head(h)


def num_classes_of(dataset, split) -> int:
    if split.y is None:
        raise DgmbenchError(f"feature net 'domain' needs a labeled train split; dataset {dataset.name!r} has "
                            "no labels (use --feature-net inception)")
    return int(dataset.num_classes or int(split.y.max()) + 1)


@torch.no_grad()
def accuracy(model: DomainClassifier, split, device, batch_size: int = 512) -> float:
    correct = 0
    for x, y in split.batches(batch_size, device=device):
        correct += (model(x)[1].argmax(1) == y).sum().item()
    return correct / max(len(split), 1)


@contextlib.contextmanager
def deterministic_kernels():
    """cuDNN's deterministic convolutions and PyTorch's deterministic variants of other ops, for the
    duration only. On an H200 two trainings of the same recipe gave test accuracies 0.5124 and 0.5140
    (cuDNN picks atomic-add backward kernels by default), so two GPU runs would score samples with
    different networks. No effect on CPU arithmetic: CPU tables keep their cached networks."""
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[:2]
        torch.use_deterministic_algorithms(flags[2], warn_only=flags[3])


def augment(x: torch.Tensor, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """A random shift of up to 1/8 of the image per example (reflection-padded crop) and, with
    ``flip``, a left-right flip of half the examples; the draws come from ``generator`` (CPU)."""
    b, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (b, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (b, 1, 1, w)
    out = padded[torch.arange(b, device=x.device)[:, None, None, None],
                 torch.arange(x.shape[1], device=x.device)[None, :, None, None], rows, cols]
    if flip:
        mirror = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        out = torch.where(mirror[:, None, None, None], out.flip(-1), out)
    return out


def train_classifier(train, test, channels: int, num_classes: int, steps: int, device, seed: int = 0,
                     batch_size: int = 128, lr: float = 2e-3, flip: bool = False) -> tuple[DomainClassifier, float]:
    """Train with cross-entropy (the recipe of the module docstring); returns the model (eval
    mode) and its test accuracy."""
    with torch.random.fork_rng(devices=[device] if torch.device(device).type == "cuda" else []), \
            deterministic_kernels(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have a deterministic implementation.*")
        torch.manual_seed(seed)
        model = DomainClassifier(channels, num_classes).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        g = torch.Generator().manual_seed(seed)
        step = 0
        model.train()
        while step < steps:
            for x, y in train.batches(batch_size, shuffle=True, generator=g, device=device, drop_last=True):
                loss = nn.functional.cross_entropy(model(augment(x, flip, g))[1], y.long())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                step += 1
                if step >= steps:
                    break
        model.eval()
        return model, accuracy(model, test, device)


def splits(ctx):
    """The (train, test) splits the network learns from and is scored on: the dataset's whole
    splits when the context can load them (``ctx.load_full(split)``), else the run's own."""
    load_full = getattr(ctx, "load_full", None)
    if callable(load_full):
        return load_full("train"), load_full("test")
    return ctx.train, ctx.test


def default_steps(ctx) -> int:
    return int(ctx.options.get("domain_net_steps", 2000))  # the budgets set it


def weights_hash(model: nn.Module) -> str:
    return sha256_bytes(*(v.detach().cpu().float().numpy() for v in model.state_dict().values()))


def build(dataset, ctx) -> FeatureNet:
    train, test = splits(ctx)
    classes = num_classes_of(dataset, train)
    steps = default_steps(ctx)
    recipe = {"arch": ARCH_VERSION, "dataset": dataset.name, "shape": list(dataset.shape), "classes": classes,
              "train": [len(train), data_hash(train)], "test": [len(test), data_hash(test)], "steps": steps,
              "seed": 0, "options": {k: str(v) for k, v in dict(dataset.options).items()}}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    path = cache_dir() / "domain" / f"{safe_name(dataset.name)}-{key[:16]}.pt"
    device = ctx.device
    cached = load_cached(path, key, dataset.shape[0], classes, device)
    if cached is not None:
        model, meta = cached
    else:
        start = time.perf_counter()
        model, acc = train_classifier(train, test, dataset.shape[0], classes, steps, device,
                                      flip=dataset.name in FLIPPED)
        meta = {"key": key, "accuracy": acc, "steps": steps, "train_seconds": time.perf_counter() - start,
                "weights_sha256": weights_hash(model), "recipe": json.dumps(recipe, sort_keys=True)}
        save(path, model, meta)
    model.eval()

    @torch.no_grad()
    def fn(x):
        return model(x.to(device))

    return FeatureNet(fn, "domain", f"sha256:{meta['weights_sha256']}", "none",
                      {"accuracy": float(meta["accuracy"]), "steps": int(meta["steps"]), "path": str(path)})


def save(path, model: nn.Module, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "meta": meta}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_cached(path, key: str, channels: int, classes: int, device):
    """The cached classifier and its metadata, or None when the file is missing, unreadable, for
    another recipe, or its weights do not match their recorded hash."""
    if not path.is_file():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
        meta = ck["meta"]
        if meta["key"] != key:
            raise ValueError("recipe hash mismatch")
        model = DomainClassifier(channels, classes)
        model.load_state_dict(ck["state_dict"])
        if weights_hash(model) != meta["weights_sha256"]:
            raise ValueError("weights hash mismatch")
    except Exception as exc:
        print(f"warning: domain classifier cache {path} is unusable ({type(exc).__name__}: {exc}); retraining")
        return None
    return model.to(device).eval(), meta
