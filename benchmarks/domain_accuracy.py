"""Test accuracy of the ``domain`` feature network against the bar a leaderboard holds it to.

Trains (or reads from the cache, ``$DGMBENCH_CACHE/domain``) the suite's classifier of each
dataset on its whole train split for ``--steps`` steps of recipe ``domain-cnn-v2``
(:mod:`dgmbench.features.domain`) and prints its test accuracy on the whole test split beside
:func:`dgmbench.trained.domain_accuracy_bar`. A leaderboard refuses FID/IS/KID/precision-recall
from a network below its bar; the budgets' ``domain_net_steps`` are chosen from this output.

    python benchmarks/domain_accuracy.py cifar10 mnist-binary-static --steps 4000 --data-root ../shared/data
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from dgmbench.errors import DgmbenchError
from dgmbench.features import feature_net_for
from dgmbench.metrics import MetricContext
from dgmbench.plan import load_split
from dgmbench.plugins import load_registry
from dgmbench.specs import RunRecord
from dgmbench.trained import domain_accuracy_bar


def accuracy_of(reg, name: str, steps: int, data_root) -> tuple[float, float]:
    """(test accuracy, seconds to build) of the domain classifier of dataset ``name``."""
    spec = reg.dataset(name)
    record = RunRecord(model="", dataset=name, data_root=data_root)

    def full(split):  # what a run's metric context loads, so the cached network is the runs' own
        return load_split(spec, split, record, None)

    ctx = MetricContext(model=None, dataset=spec, test=full("test"), device=torch.device("cpu"),
                        options={"domain_net_steps": steps}, registry=reg, load_full=full)
    start = time.perf_counter()
    net = feature_net_for(ctx, "domain")
    return float(net.meta["accuracy"]), time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    reg = load_registry()
    print(f"{'dataset':24} {'steps':>6} {'accuracy':>9} {'bar':>5} {'usable':>6} {'seconds':>8}")
    try:
        for name in args.datasets:
            acc, secs = accuracy_of(reg, name, args.steps, args.data_root)
            bar = domain_accuracy_bar(name)
            print(f"{name:24} {args.steps:6d} {acc:9.4f} {bar:5.2f} {'yes' if acc >= bar else 'no':>6} {secs:8.1f}")
    except DgmbenchError as exc:
        print(f"domain_accuracy: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
