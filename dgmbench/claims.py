"""Helpers for checking a paper's qualitative claims against our measured numbers (public API).

A protocol names a function of its leaderboard table in ``ProtocolSpec.claims``
(``"package.module:function"``); the leaderboard calls it with the table (one row per reference
row or cell, a ``cell`` column and ``"<value> (ours)"`` columns holding the mean over seeds) and
appends the sentences it returns to the caption. Write each sentence with :func:`verdict`, so that
it says on how many measured comparisons the claim holds, and a claim on an incomplete table is
never reported as holding outright::

    from dgmbench.claims import ours, verdict

    def bigger_is_better(df):
        score = ours(df, "score")
        pairs = [("small", "big")]
        results = [(score[b] > score[a], f"{b} {score[b]:.2f} <= {a} {score[a]:.2f}")
                   for a, b in pairs if a in score and b in score]
        return [verdict("The big model scores higher", results)]

Nothing here imports pandas until a table is read.
"""
from __future__ import annotations

import math


def ours(df, column: str) -> dict:
    """cell -> our measured mean of ``column`` (the table's ``"<column> (ours)"``), for the cells
    that have one; {} when the table has no such column."""
    col = f"{column} (ours)"
    if col not in df:
        return {}
    return {c: float(v) for c, v in zip(df["cell"], df[col]) if isinstance(c, str) and _number(v)}


def verdict(claim: str, results: list[tuple[bool, str]]) -> str:
    """One sentence: ``claim`` holds in n of m measured comparisons (each ``(holds, why not)``),
    listing those it fails, or "not measured" when there is none."""
    if not results:
        return f"{claim}: not measured."
    failed = [why for ok, why in results if not ok]
    head = f"{claim}: holds in {len(results) - len(failed)} of {len(results)} measured comparisons"
    return head + (f" (fails: {'; '.join(failed)})." if failed else ".")


def _number(v) -> bool:
    try:
        return v is not None and not math.isnan(float(v))
    except (TypeError, ValueError):
        return False
