"""The papers' claims, checked against the measured tables (see dgmbench.claims for the form)."""
from __future__ import annotations

import pandas as pd

from dgmbench.claims import ours, verdict


def _ratio_claims(values: dict, unit: str, prefix: str = "") -> list[str]:
    """RevNet flat in depth, ResNet growing, RevNet-164 far below ResNet-164 (Gomez et al. 2017;
    memcnn measured 1226 / 677 = 1.81x and 1226 / 3083 = 0.40x). RevNet-164's bottleneck units
    are 4x as wide as RevNet-38's basic ones (stage widths 128-256-512 against 32-64-112), so its
    stored stage outputs and downsampling units are too; RevNet-110 against RevNet-38 is the
    comparison of depth alone."""
    k = lambda m, d: f"{prefix}{m}{d}"  # noqa: E731
    flat, grows, below = [], [], []
    same = []
    if k("revnet", 38) in values and k("revnet", 110) in values:
        r = values[k("revnet", 110)] / values[k("revnet", 38)]
        same.append((r <= 1.3, f"RevNet-110 / RevNet-38 = {r:.2f}"))
    if k("revnet", 38) in values and k("revnet", 164) in values:
        r = values[k("revnet", 164)] / values[k("revnet", 38)]
        flat.append((r <= 1.3, f"RevNet-164 / RevNet-38 = {r:.2f}"))
    res = [d for d in (32, 110, 164) if k("resnet", d) in values]
    for a, b in zip(res, res[1:]):
        grows.append((values[k("resnet", b)] > values[k("resnet", a)],
                      f"ResNet-{b} {values[k('resnet', b)]:.1f} <= ResNet-{a} {values[k('resnet', a)]:.1f}"))
    if k("revnet", 164) in values and k("resnet", 164) in values:
        r = values[k("revnet", 164)] / values[k("resnet", 164)]
        below.append((r <= 0.35, f"RevNet-164 / ResNet-164 = {r:.2f}"))
    out = [verdict(f"RevNet-110 within 1.3x of RevNet-38, same basic blocks at 3x the depth ({unit})", same),
           verdict(f"RevNet-164 within 1.3x of RevNet-38 ({unit})", flat),
           verdict(f"ResNet's memory grows with depth ({unit})", grows),
           verdict(f"RevNet-164 at most 0.35x ResNet-164 ({unit})", below)]
    ratios = "; ".join(why for ok, why in same + flat + below)
    return [s for s in out if not s.endswith("not measured.")] + ([f"Ratios ({unit}): {ratios}."] if ratios else [])


def revnet_memory(df: pd.DataFrame) -> list[str]:
    return _ratio_claims(ours(df, "saved_mib"), "saved for backward") + \
        _ratio_claims(ours(df, "cuda_peak_mib"), "CUDA peak")


def revnet_table(df: pd.DataFrame) -> list[str]:
    """Gomez et al.: RevNets match equally sized ResNets (within 1.04 points in their Table 3)."""
    err = ours(df, "top1_error")
    pairs = []
    for ds in ("cifar10", "cifar100"):
        for res, rev in ((32, 38), (110, 110), (164, 164)):
            a, b = f"{ds}-resnet{res}", f"{ds}-revnet{rev}"
            if a in err and b in err:
                pairs.append((abs(err[a] - err[b]) <= 1.5, f"{ds} ResNet-{res} {err[a]:.2f} vs RevNet-{rev} "
                                                             f"{err[b]:.2f}"))
    return [verdict("RevNet's top-1 error within 1.5 points of the paired ResNet's", pairs)] + \
        _ratio_claims(ours(df, "saved_mib"), "saved for backward", "cifar10-")


def irevnet(df: pd.DataFrame) -> list[str]:
    """i-RevNet discards no information: invert(features(x)) gives back every 8-bit pixel, i.e. its
    float32 reconstruction error stays below half a grey level (1/510). (An untrained network
    inverts to 1e-5, as the plugin's tests check; trained weights grow the features and with them
    float32's rounding.) And ``invert`` is the exact inverse: a float64 copy of the trained network
    reconstructs to 1e-6, so a float32 failure is rounding, not a wrong inverse."""
    rec, rec64 = ours(df, "reconstruction_error"), ours(df, "reconstruction_error_float64")
    return [verdict("i-RevNet recovers its 8-bit input exactly from its features (max error < 1/510)",
                    [(v < 1 / 510, f"{c}: max error {v:.2e}") for c, v in rec.items()]),
            verdict("invert is the exact inverse of features (float64 max error < 1e-6)",
                    [(v < 1e-6, f"{c}: float64 max error {v:.2e}") for c, v in rec64.items()])]
