"""Two stochastic layers: the paper's stated widths against the released code's, side by side.

Burda et al. (2016, Sec. 5) give 100-100 tanh units between x and z_1 and 50-50 between z_1 and
z_2; the authors' code (github.com/yburda/iwae, experiments.py), which made Table 1, uses 200-200
and 100-100. Both are trained here from the same seed with the same steps (a k-sample VAE or IWAE,
Adam 1e-3, dynamically binarized MNIST) and the mean training loss (-bound, nats) of each epoch
and the active units per layer at the end (the suite's ``active_units`` metric, on 2,000
training images) are printed; the one-layer model is the yardstick.

    python plugins/latent/benchmarks/two_layer_widths.py --data-root ../shared/data --epochs 8
"""
from __future__ import annotations

import argparse

import torch
from dgmbench_latent.models import IWAE, VAE

from dgmbench.data import DataSplit
from dgmbench.datasets import load_mnist
from dgmbench.metrics import MetricContext
from dgmbench.metrics.latent import active_units
from dgmbench.specs import DatasetSpec

ARCHITECTURES = {
    "1 layer, 200-200": {"layers": 1},
    "2 layers, paper text 100-100 / 50-50": {"layers": 2, "hidden": [[100, 100], [50, 50]]},
    "2 layers, released code 200-200 / 100-100": {"layers": 2, "hidden": [[200, 200], [100, 100]]},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--model", choices=["vae", "iwae"], default="vae")
    args = ap.parse_args()
    x = load_mnist("train", args.data_root, binarize="dynamic").x.flatten(1)
    spec = DatasetSpec("mnist-binary", load="unused:unused", shape=(784,), levels=2)
    probe = DataSplit(torch.bernoulli(x[:2000], generator=torch.Generator().manual_seed(0)))
    cls = VAE if args.model == "vae" else IWAE
    print(f"{args.model}, k = {args.k}, batch {args.batch}, {args.epochs} epochs on {len(x)} images")
    for name, config in ARCHITECTURES.items():
        torch.manual_seed(0)
        model = cls((784,), 2, {**config, "k": args.k, "lr_schedule": "constant"})
        optimizers = model.configure_optimizers(1e-3)
        losses = []
        for epoch in range(args.epochs):
            total = 0.0
            for i, idx in enumerate(torch.randperm(len(x)).split(args.batch)):
                logs = model.train_step(torch.bernoulli(x[idx]), None, optimizers, i, None)
                total += float(logs["loss"]) * len(idx)
            losses.append(total / len(x))
        units = active_units(MetricContext(model=model, dataset=spec, test=probe, device=torch.device("cpu")))
        active = "+".join(str(int(units[f"active_units_layer{i + 1}"])) for i in range(model.layers))
        print(f"{name:44s} loss per epoch {' '.join(f'{v:.1f}' for v in losses)}; active units {active}")


if __name__ == "__main__":
    main()
