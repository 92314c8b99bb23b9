"""Which cells of a leaderboard trained, and which feature networks a sample-quality number can trust.

A paper's claim is checked only on cells that trained; a cell that did not is shown as such in the
table (column ``did not train``) and its values are left out of every claim, whose verdict then
reads "not measured: cells did not train" where nothing else is left. A run (one seed) did not
train when one of the following holds; a cell did not train when at least half of its runs did
not, and a cell with fewer such runs is the mean of its trained runs only (the column says how many
were left out), so one collapsed seed of three cannot decide a claim:

* **its held-out curve is flat**: the held-out NLL (``test/nll``, else ``test/bpd``) at its last
  evaluation is less than :data:`FLAT` (0.5 %) below its first, over at least two evaluations. A
  curve that does not move at all is a model with nothing to train (the uniform baseline) and
  passes, and so do the cells a protocol's claims function names in its ``expected_plateaus``
  attribute (posterior collapse: the diagonal VAE's plateau is the claim itself);
* **its encoder collapsed**: the table shows a disentanglement score and the run's number
  of active dimensions (``active_units``: Cov_x E[z | x] > 0.01, Burda et al. 2016) is below 1 --
  a collapsed encoder scores by chance (beta-VAE score ~0.23, FactorVAE score 0 on dSprites);
* **its mode classifier is below its accuracy bar**: the Stacked MNIST channel classifier's test
  accuracy (``mode_classifier_accuracy``) is below :data:`MODE_CLASSIFIER_BAR` (0.95), so the mode
  counts read misclassified digits;
* **its samples lie off the data**: the run's sample precision (``precision``, the fraction of
  generated points inside the real data's 3-NN manifold, Kynkaanniemi et al. 2019) is below
  :data:`PRECISION_BAR` (0.1) under every feature network the table shows -- fewer than one sample
  in ten looks like a data point, as for a GAN that diverged or has not left its first blobs.
  (Recall is no such test: a trained DCGAN on CIFAR-10 has recall ~0 at a short budget.)

Feature networks: FID / IS / KID / precision / recall from the suite's ``domain`` classifier are
refused (not shown) for a dataset whose classifier's test accuracy is below
:func:`domain_accuracy_bar` -- a degenerate feature space gives IS ~1 and precision ~1 whatever the
samples; the caption states the bar and the accuracy.
"""
from __future__ import annotations

import pandas as pd

#: the least relative fall of the held-out NLL, first to last evaluation, of a run that trained
FLAT = 0.005
#: the least test accuracy of the Stacked MNIST channel classifier whose mode counts are claims
MODE_CLASSIFIER_BAR = 0.95
#: the least sample precision (under the best shown feature network) of a generator that trained
PRECISION_BAR = 0.1
#: values that are disentanglement scores: a table showing one shows active dimensions beside it
DISENTANGLEMENT_SCORES = ("betavae_score", "factorvae_score", "mig", "dci_disentanglement", "sap")
#: the least test accuracy of a ``domain`` classifier whose features score samples, per dataset
#: (CIFAR-like photographs are harder than digits for the suite's small CNN); others: DEFAULT_BAR
DOMAIN_BARS = {"cifar10": 0.70, "cifar100": 0.40}
DEFAULT_BAR = 0.95
HELD_OUT = ("test/nll", "test/bpd")


def domain_accuracy_bar(dataset: str) -> float:
    return DOMAIN_BARS.get(str(dataset), DEFAULT_BAR)


def weak_feature_nets(accuracies: dict) -> dict:
    """``{(net, dataset): accuracy}`` -> the pairs whose sample metrics are refused: a ``domain``
    network below its dataset's bar."""
    return {(net, ds): acc for (net, ds), acc in accuracies.items()
            if net == "domain" and acc < domain_accuracy_bar(ds)}


def flat_runs(history: pd.DataFrame, run_ids) -> set:
    """The runs among ``run_ids`` whose held-out NLL curve is flat (see the module docstring)."""
    flat = set()
    if history is None or history.empty:
        return flat
    h = history[history.run_id.isin(set(run_ids)) & history.name.isin(HELD_OUT)]
    for run_id, g in h.groupby("run_id"):
        name = HELD_OUT[0] if (g.name == HELD_OUT[0]).any() else HELD_OUT[1]
        curve = g[g.name == name].sort_values("step").drop_duplicates("step", keep="last").value.tolist()
        if len(curve) >= 2 and curve[-1] != curve[0] and curve[0] - curve[-1] < FLAT * abs(curve[0]):
            flat.add(run_id)
    return flat


def untrained_runs(values: pd.DataFrame, history: pd.DataFrame | None, plateaus=()) -> dict:
    """run id -> why it did not train, for a leaderboard's ``values`` (one row per run and value
    ``column``, with its ``cell``); the runs of the cells in ``plateaus`` may have a flat curve."""
    why: dict = {}
    scored = set(values.run_id[values.column.isin(DISENTANGLEMENT_SCORES)])
    units = values[(values.column == "active_units") & values.run_id.isin(scored)]
    for run_id, n in zip(units.run_id, units.value):
        if not pd.isna(n) and n < 1:
            why[run_id] = f"encoder collapsed ({n:.2g} active dimensions)"
    modes = values[values.column == "mode_classifier_accuracy"]
    for run_id, acc in zip(modes.run_id, modes.value):
        if acc < MODE_CLASSIFIER_BAR:
            why.setdefault(run_id, f"mode classifier accuracy {acc:.3f} < {MODE_CLASSIFIER_BAR}")
    precision = values[values.column.str.split(" ").str[0] == "precision"].groupby("run_id").value.max()
    for run_id, p in precision.items():
        if p < PRECISION_BAR:
            why.setdefault(run_id, f"samples off the data (precision {p:.3f} < {PRECISION_BAR})")
    may_plateau = set(values.run_id[values.cell.isin(set(plateaus))])
    for run_id in flat_runs(history, set(values.run_id) - may_plateau):
        why.setdefault(run_id, "held-out curve flat")
    return why


def untrained_cells(run_why: dict, runs_by_cell: dict) -> tuple[dict, dict]:
    """(cells that did not train, cells with some runs that did not) -> why, from
    :func:`untrained_runs`. A cell did not train when at least half of its runs did not; the
    others keep their trained runs only (a cell of 3 seeds with one collapsed encoder is the mean
    of the other two), and the why says how many runs were left out."""
    cells, partly = {}, {}
    for cell, run_ids in runs_by_cell.items():
        bad = [r for r in run_ids if r in run_why]
        if not bad:
            continue
        whys = {run_why[r] for r in bad}
        counted = f"{'; '.join(sorted({w.split(' (')[0] for w in whys}))} in {len(bad)} of {len(run_ids)} runs"
        if 2 * len(bad) < len(run_ids):
            partly[cell] = f"{counted}, left out of the means"
        elif len(bad) == len(run_ids) and len(whys) == 1 and not next(iter(whys)).startswith("held-out"):
            cells[cell] = next(iter(whys))  # every run alike, e.g. "encoder collapsed (0 active dimensions)"
        else:
            cells[cell] = counted
    return cells, partly


def without(df: pd.DataFrame, cells) -> pd.DataFrame:
    """The table with the ``(ours)`` values of ``cells`` removed (what claims may look at)."""
    out = df.copy()
    gone = out["cell"].isin(set(cells))
    for col in [c for c in out.columns if c.endswith(" (ours)")]:
        out[col] = out[col].astype(object)
        out.loc[gone, col] = None
    return out


def checked_claims(claims, df: pd.DataFrame, untrained: dict) -> list[str]:
    """The claim sentences of ``claims(df)`` judged on trained cells only. A claim that the whole
    table measures but the trained cells do not reads "<claim>: not measured: cells did not train
    (<cells>)."; sentences are "<claim>: <verdict>" as :func:`dgmbench.claims` writes them."""
    if not untrained:
        return list(claims(df))
    full, kept = list(claims(df)), list(claims(without(df, untrained)))
    head = lambda s: s.split(": ", 1)[0]  # noqa: E731
    kept_by = {head(s): s for s in kept}
    names = ", ".join(sorted(untrained)[:4]) + (f" and {len(untrained) - 4} more" if len(untrained) > 4 else "")
    out = []
    for s in full:
        k = kept_by.pop(head(s), None)
        lost = k is None or (k.rstrip(".").endswith("not measured") and not s.rstrip(".").endswith("not measured"))
        out.append(f"{head(s)}: not measured: cells did not train ({names})." if lost else k)
    out += [s for s in kept_by.values() if not s.rstrip(".").endswith("not measured")]
    return out
