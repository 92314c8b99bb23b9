"""The papers' qualitative claims, checked against our measured numbers.

A protocol names one of these functions in ``ProtocolSpec.claims``; the leaderboard calls it
with its table (one row per reference row or cell, ``"<value> (ours)"`` columns) and appends the
sentences it returns to the caption. Each sentence says whether the claim holds and on how many
measured comparisons, so a claim on an incomplete table is never reported as holding outright.
"""
from __future__ import annotations

import pandas as pd


def _ours(df: pd.DataFrame, column: str) -> dict:
    """cell -> measured mean, for the cells that have one."""
    col = f"{column} (ours)"
    if col not in df:
        return {}
    return {c: float(v) for c, v in zip(df["cell"], df[col]) if c is not None and v is not None and not pd.isna(v)}


def _verdict(claim: str, results: list[tuple[bool, str]]) -> str:
    if not results:
        return f"{claim}: not measured."
    failed = [why for ok, why in results if not ok]
    head = f"{claim}: holds in {len(results) - len(failed)} of {len(results)} measured comparisons"
    return head + (f" (fails: {'; '.join(failed)})." if failed else ".")


CIFAR10_ORDER = ["uniform", "gaussian", "nice", "realnvp", "pixelcnn", "gated-pixelcnn", "pixelcnnpp"]


def cifar10_ordering(df: pd.DataFrame) -> list[str]:
    """uniform > Gaussian > NICE > RealNVP > PixelCNN > Gated PixelCNN > PixelCNN++ in bits/dim,
    checked between consecutive measured models."""
    bpd = _ours(df, "bpd")
    measured = [m for m in CIFAR10_ORDER if m in bpd]
    pairs = [(a, b) for a, b in zip(measured, measured[1:])]
    results = [(bpd[a] > bpd[b], f"{a} {bpd[a]:.3f} <= {b} {bpd[b]:.3f}") for a, b in pairs]
    return [_verdict("The paper's ordering uniform > Gaussian > NICE > RealNVP > PixelCNN > Gated PixelCNN > "
                     "PixelCNN++ (bits/dim)", results)]


def iwae_table(df: pd.DataFrame) -> list[str]:
    """Burda et al.'s claims: IWAE's NLL falls as k grows; IWAE beats VAE at the same k > 1;
    IWAE has more active units than VAE at k = 50; two stochastic layers beat one."""
    nll = _ours(df, "nll")
    units = {c: v + _ours(df, "active_units_layer2").get(c, 0.0) for c, v in _ours(df, "active_units_layer1").items()}
    sets = ("mnist-binary", "omniglot-binary")
    key = lambda ds, layers, k, m: f"{ds}-l{layers}-k{k}-{m}"  # noqa: E731 - the protocol's cell keys
    falls, beats, more_units, deeper = [], [], [], []
    for ds in sets:
        for layers in (1, 2):
            for k1, k2 in ((1, 5), (5, 50)):
                a, b = key(ds, layers, k1, "iwae"), key(ds, layers, k2, "iwae")
                if a in nll and b in nll:
                    falls.append((nll[b] < nll[a], f"{b} {nll[b]:.2f} >= {a} {nll[a]:.2f}"))
            for k in (5, 50):
                v, i = key(ds, layers, k, "vae"), key(ds, layers, k, "iwae")
                if v in nll and i in nll:
                    beats.append((nll[i] < nll[v], f"{i} {nll[i]:.2f} >= {v} {nll[v]:.2f}"))
            v, i = key(ds, layers, 50, "vae"), key(ds, layers, 50, "iwae")
            if v in units and i in units:
                more_units.append((units[i] > units[v], f"{i} {units[i]:.0f} <= {v} {units[v]:.0f}"))
        for k in (1, 5, 50):
            for m in ("vae", "iwae"):
                one, two = key(ds, 1, k, m), key(ds, 2, k, m)
                if one in nll and two in nll:
                    deeper.append((nll[two] < nll[one], f"{two} {nll[two]:.2f} >= {one} {nll[one]:.2f}"))
    return [_verdict("IWAE's NLL falls as k grows", falls),
            _verdict("IWAE's NLL is below VAE's at the same k > 1", beats),
            _verdict("IWAE has more active units than VAE at k = 50", more_units),
            _verdict("Two stochastic layers beat one", deeper)]


def posterior_collapse(df: pd.DataFrame) -> list[str]:
    """The seeds' claim: no active unit for diagonal Sigma, at least one otherwise."""
    units = _ours(df, "active_units")
    results = []
    if "vae-diag" in units:
        results.append((units["vae-diag"] == 0, f"diagonal: {units['vae-diag']:.2f} active units"))
    if "vae-full" in units:
        results.append((units["vae-full"] >= 1, f"non-diagonal: {units['vae-full']:.2f} active units"))
    return [_verdict("Latents unused for diagonal Sigma and used otherwise", results)]


#: the diagonal VAE's flat held-out curve is the claim (it collapses), not a cell that did not train
posterior_collapse.expected_plateaus = ("vae-diag",)
