"""What every run leaves next to its results: a sample grid and training curves (PNG)."""
from __future__ import annotations

from pathlib import Path

import torch


def _pyplot():
    """matplotlib's pyplot, headless; None when matplotlib is missing (a stripped environment such as
    a GPU box without it): the run then keeps its numbers and skips the plot."""
    try:
        import matplotlib
    except ImportError:
        print("note: matplotlib is not installed; plots are skipped")
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@torch.no_grad()
def save_samples(model, path: Path, n: int = 64, data: torch.Tensor | None = None) -> Path | None:
    """An 8x8 grid of samples (torchvision's save_image) for images; a scatter plot for 2-D data.
    Returns None for models that cannot sample, or when n is 0 (an autoregressive model on a CPU
    draws pixel by pixel: minutes for a CIFAR-sized grid)."""
    if n <= 0 or "sample" not in model.capabilities():
        return None
    x = model.sample(n).float().cpu()
    if x.ndim == 2:
        plt = _pyplot()
        if plt is None:
            return None
        fig, ax = plt.subplots(figsize=(4, 4))
        if data is not None:
            ax.scatter(data[:2000, 0], data[:2000, 1], s=2, alpha=0.3, label="data")
        ax.scatter(x[:, 0], x[:, 1], s=4, label="samples")
        ax.legend(loc="upper right")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
    from torchvision.utils import save_image

    scale = max(1, -(-32 // x.shape[-1]))  # small images (8x8 digits) are enlarged to be seen
    if scale > 1:
        x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    save_image(x.clamp(0, 1), path, nrow=8, padding=2)
    return path


def save_curves(history: list[dict], path: Path, unit: str = "") -> Path | None:
    """The training curves against the optimizer step: the held-out NLL in the run's reported unit
    (``unit``: bits/dim or nats, the same quantity as the final ``nll``) first, then each training
    log (in the model's own units), one labelled panel each. ``history``: ``{"step", "name",
    "value"}`` rows as :func:`dgmbench.training.fit` records them."""
    held_out = "test/bpd" if unit == "bits/dim" else "test/nll"
    series: dict[str, list] = {}
    for row in history:
        if row["name"].startswith("train/") or row["name"] == held_out:
            series.setdefault(row["name"], []).append((row["step"], row["value"]))
    names = sorted(series, key=lambda n: (n != held_out, n))
    if not names:
        return None
    plt = _pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        steps, values = zip(*series[name])
        ax.plot(steps, values, marker="o", ms=3)
        ax.set_xlabel("optimizer step")
        if name == held_out:
            ax.set_ylabel(f"held-out NLL ({unit})")
            ax.set_title("test NLL")
        else:
            ax.set_ylabel(f"{name[len('train/'):]} (model's units)")
            ax.set_title(f"training {name[len('train/'):]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
