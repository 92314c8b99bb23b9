"""The protocols' claims, checked against the measured table (one row per cell, ``"<value> (ours)"``
columns holding the mean over seeds). Each sentence says whether the claim holds."""
from __future__ import annotations

import pandas as pd

from dgmbench.claims import ours, verdict


def identifiability(df: pd.DataFrame) -> list[str]:
    """Same marginals (every seed's KS tests pass for both) and scores that fall for the rotated oracle."""
    match, ks = ours(df, "marginals_match"), ours(df, "ks_max")
    if "oracle" not in match or "oracle-rotated" not in match:
        return ["The identifiability claim: not measured."]
    same = match["oracle"] == 1.0 and match["oracle-rotated"] == 1.0
    lower = []
    for score in ("betavae_score", "factorvae_score", "mig"):
        s = ours(df, score)
        if "oracle" in s and "oracle-rotated" in s:
            lower.append((s["oracle-rotated"] < s["oracle"] - 0.05,
                          f"{score} {s['oracle']:.3f} vs {s['oracle-rotated']:.3f}"))
    falls = sum(ok for ok, _ in lower)
    verdict = "holds" if same and lower and falls == len(lower) else "holds in part" if same and falls else \
        "does not hold"
    return [f"Same marginals: {'yes' if same else 'no'} (KS tests pass on every seed for both; largest KS "
            f"distance {ks.get('oracle', float('nan')):.4f} and {ks.get('oracle-rotated', float('nan')):.4f}). "
            f"Scores, oracle vs rotated: {'; '.join(text for _, text in lower)}. The claim {verdict}: "
            f"{falls} of {len(lower)} scores fall by more than 0.05 with the marginals unchanged."]


def disentanglement(df: pd.DataFrame) -> list[str]:
    """The trade-off of the seeds: a stronger KL pressure (beta 1 -> 4 -> 16) costs reconstruction."""
    recon = ours(df, "recon")
    order = [c for c in ("vae", "betavae-4", "betavae-16") if c in recon]
    results = [(recon[b] > recon[a], f"{b} {recon[b]:.1f} <= {a} {recon[a]:.1f}") for a, b in zip(order, order[1:])]
    return [verdict("Reconstruction worsens as beta grows (1, 4, 16)", results)]
