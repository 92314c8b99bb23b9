"""Claims only from trained cells: a collapsed encoder, a flat held-out curve, a weak mode
classifier or samples off the data mark a cell "did not train" and take it out of the claims
("not measured: cells did not train"); a weak domain classifier's FID / IS are refused in the
leaderboard."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from dgmbench import leaderboard, trained
from dgmbench.specs import Cell, ProtocolSpec
from dgmbench.store import Store


def add(store, cell, seed, metrics, history=(), dataset="dsprites", feature_net=None, protocol="toy"):
    run = store.start_run(protocol=protocol, protocol_version="1", model="m", dataset=dataset, budget="smoke",
                          seed=seed, cell=cell, config={}, record="{}", device="cpu")
    store.add_metrics(run, "m", metrics, feature_net=feature_net)
    if history:
        store.add_history(run, [{"step": s, "name": "test/nll", "value": v} for s, v in history])
    store.update_run(run, status="ok", wall_time_s=1.0, finished=time.time())
    return run


def disentanglement_protocol():
    return ProtocolSpec(name="toy", version="1", metrics=["m"], values=["betavae_score", "active_units", "recon"],
                        cells=[Cell(k, "m", "dsprites", labels={"model": k})
                               for k in ("vae", "betavae-4", "betavae-16")],
                        claims="dgmbench_disentangle.claims:disentanglement")  # the protocol's own claim


def test_collapsed_encoders_are_marked_and_their_claim_is_not_measured(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    for seed in (0, 1):  # vae and beta 4 collapsed (what 50 CPU steps gave), beta 16 trained
        add(store, "vae", seed, {"betavae_score": 0.227, "active_units": 0.0, "recon": 40.0})
        add(store, "betavae-4", seed, {"betavae_score": 0.227, "active_units": 0.0, "recon": 45.0})
        add(store, "betavae-16", seed, {"betavae_score": 0.61, "active_units": 3.0, "recon": 60.0})
    spec = disentanglement_protocol()
    df, caption = leaderboard.build(spec, store, "smoke")
    assert dict(zip(df.cell, df["did not train"])) == {
        "vae": "encoder collapsed (0 active dimensions)", "betavae-4": "encoder collapsed (0 active dimensions)",
        "betavae-16": ""}
    claim = "Reconstruction worsens as beta grows (1, 4, 16): not measured: cells did not train (betavae-4, vae)."
    assert df.attrs["claims"] == [claim] and claim in caption
    assert "holds" not in caption and "fails" not in caption
    md = leaderboard.export(df, caption, "md")
    assert "| did not train" in md and "encoder collapsed" in md
    # the same table with trained encoders checks the claim as before
    store2 = Store(tmp_path / "r2.sqlite")
    for cell, recon in (("vae", 40.0), ("betavae-4", 45.0), ("betavae-16", 60.0)):
        add(store2, cell, 0, {"betavae_score": 0.5, "active_units": 4.0, "recon": recon})
    df2, caption2 = leaderboard.build(spec, store2, "smoke")
    assert "did not train" not in df2 and "holds in 2 of 2" in caption2


def test_a_flat_held_out_curve_marks_a_cell_but_a_model_with_nothing_to_train_passes(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    spec = ProtocolSpec(name="toy", version="1", metrics=["m"], values=["nll"],
                        cells=[Cell(k, "m", "mnist", labels={"model": k}) for k in ("flat", "learns", "uniform")])
    for seed in (0, 1, 2):
        add(store, "flat", seed, {"nll": 198.9}, history=[(50, 199.52), (100, 198.85)])   # 0.34 % lower
        add(store, "learns", seed, {"nll": 120.0}, history=[(50, 199.5), (100, 150.0), (150, 120.0)])
        add(store, "uniform", seed, {"nll": 543.4}, history=[(50, 543.4), (100, 543.4)])  # no parameters
    df, caption = leaderboard.build(spec, store, "smoke")
    assert dict(zip(df.cell, df["did not train"])) == {"flat": "held-out curve flat in 3 of 3 runs", "learns": "",
                                                       "uniform": ""}
    assert "1 cells did not train" in caption


def test_a_mode_classifier_below_its_bar_marks_the_cell():
    values = pd.DataFrame({"run_id": ["r1", "r2"], "cell": ["a", "b"], "column": ["mode_classifier_accuracy"] * 2,
                           "value": [0.62, 0.97]})
    why = trained.untrained_runs(values, None)
    assert why == {"r1": "mode classifier accuracy 0.620 < 0.95"}
    assert trained.untrained_cells(why, {"a": ["r1"], "b": ["r2"]}) == (
        {"a": "mode classifier accuracy 0.620 < 0.95"}, {})


def test_samples_off_the_data_mark_the_run_whatever_the_feature_net():
    # precision under every shown network below the bar marks the run; one network above it passes
    values = pd.DataFrame({"run_id": ["r1", "r2", "r2", "r3"], "cell": ["a", "b", "b", "c"],
                           "column": ["precision [domain]", "precision [domain]", "precision [inception]",
                                      "recall [domain]"],
                           "value": [0.035, 0.02, 0.4, 0.0]})
    why = trained.untrained_runs(values, None)
    assert why == {"r1": "samples off the data (precision 0.035 < 0.1)"}
    assert trained.untrained_cells(why, {"a": ["r1"], "b": ["r2"], "c": ["r3"]})[0] == {
        "a": "samples off the data (precision 0.035 < 0.1)"}


def test_one_collapsed_seed_of_three_is_left_out_of_the_cell_and_its_claim(tmp_path):
    """A cell with one run that did not train is the mean of the others: one collapsed VAE seed
    (recon 462) made beta-VAE 4's 118 look better than the VAE's 208 and failed the beta claim."""
    store = Store(tmp_path / "r.sqlite")
    for seed, units, recon in ((0, 10.0, 72.0), (1, 0.0, 462.0), (2, 10.0, 90.0)):
        add(store, "vae", seed, {"betavae_score": 0.7, "active_units": units, "recon": recon})
    for seed in (0, 1, 2):
        add(store, "betavae-4", seed, {"betavae_score": 0.6, "active_units": 10.0, "recon": 118.0})
        add(store, "betavae-16", seed, {"betavae_score": 0.6, "active_units": 9.0, "recon": 160.0})
    df, caption = leaderboard.build(disentanglement_protocol(), store, "smoke")
    row = df.set_index("cell")
    assert row.loc["vae", "recon (ours)"] == pytest.approx(81.0) and row.loc["vae", "recon (ours) seeds"] == 2
    assert row.loc["vae", "did not train"] == "encoder collapsed in 1 of 3 runs, left out of the means"
    assert row.loc["betavae-4", "did not train"] == "" and row.loc["betavae-4", "recon (ours) seeds"] == 3
    assert "holds in 2 of 2" in caption and "1 cells are the means of their trained runs only" in caption


def test_a_weak_domain_classifier_is_refused_for_sample_metrics(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    spec = ProtocolSpec(name="toy", version="1", metrics=["fid"], values=[],
                        cells=[Cell(f"{ds}-gan", "m", ds, labels={"dataset": ds}) for ds in ("cifar10", "mnist")])
    add(store, "cifar10-gan", 0, {"fid": 3.1, "is": 1.02, "feature_net_accuracy": 0.299}, dataset="cifar10",
        feature_net="domain")
    add(store, "mnist-gan", 0, {"fid": 9.5, "is": 8.9, "feature_net_accuracy": 0.985}, dataset="mnist",
        feature_net="domain")
    df, caption = leaderboard.build(spec, store, "smoke")
    row = df.set_index("cell")
    assert pd.isna(row.loc["cifar10-gan", "fid [domain] (ours)"])
    assert pd.isna(row.loc["cifar10-gan", "is [domain] (ours)"])
    assert row.loc["mnist-gan", "fid [domain] (ours)"] == 9.5
    assert ("'domain' on cifar10 (a classifier trained by the suite): test accuracy 0.299, below the bar of 0.70: "
            "its FID / IS / KID / precision / recall are refused (not shown).") in caption
    assert "'domain' on mnist (a classifier trained by the suite): test accuracy 0.985 (bar 0.95)." in caption
    assert trained.weak_feature_nets({("domain", "mnist"): 0.628, ("inception", "cifar10"): 0.0}) == {
        ("domain", "mnist"): 0.628}


def test_without_keeps_labels_and_drops_values():
    df = pd.DataFrame({"cell": ["a", "b"], "model": ["A", "B"], "x (ours)": [1.0, 2.0], "x (paper)": [3.0, 4.0]})
    out = trained.without(df, {"a"})
    assert out["x (ours)"].tolist()[1] == 2.0 and out["x (ours)"].tolist()[0] is None
    assert out["x (paper)"].tolist() == [3.0, 4.0] and out.model.tolist() == ["A", "B"]


@pytest.mark.parametrize("full,kept,expected", [
    (["C: holds in 2 of 2 measured comparisons."], ["C: not measured."], ["C: not measured: cells did not train (a)."]),
    (["C: holds in 2 of 3 measured comparisons (fails: x)."], ["C: holds in 1 of 1 measured comparisons."],
     ["C: holds in 1 of 1 measured comparisons."]),
    (["C: not measured."], ["C: not measured."], ["C: not measured."]),
])
def test_checked_claims_reword_only_what_the_untrained_cells_carried(full, kept, expected):
    calls = iter([full, kept])
    assert trained.checked_claims(lambda df: next(calls), pd.DataFrame({"cell": ["a"]}), {"a": "why"}) == expected


def plateau_claim(df):
    return ["Latents unused: holds in 1 of 1 measured comparisons."]


plateau_claim.expected_plateaus = ("collapses",)


def test_a_plateau_that_is_the_claim_is_not_a_cell_that_did_not_train(tmp_path):
    """Posterior collapse: the diagonal VAE's flat curve is the result its claims function names."""
    store = Store(tmp_path / "r.sqlite")
    spec = ProtocolSpec(name="toy", version="1", metrics=["m"], values=["nll"], claims=plateau_claim,
                        cells=[Cell(k, "m", "mnist", labels={"model": k}) for k in ("collapses", "stuck")])
    for cell in ("collapses", "stuck"):
        add(store, cell, 0, {"nll": 2.16}, history=[(1000, 2.161), (3000, 2.160)])
    df, caption = leaderboard.build(spec, store, "smoke")
    assert dict(zip(df.cell, df["did not train"])) == {"collapses": "", "stuck": "held-out curve flat in 1 of 1 runs"}


def test_the_report_lists_the_verdicts_on_trained_cells(tmp_path):
    from dgmbench.report import build_site

    store = Store(tmp_path / "r.sqlite")
    for cell, units, recon in (("vae", 0.0, 40.0), ("betavae-4", 0.0, 45.0), ("betavae-16", 3.0, 60.0)):
        add(store, cell, 0, {"betavae_score": 0.3, "active_units": units, "recon": recon})
    index = build_site([store.path], tmp_path / "site", {"toy": disentanglement_protocol()})
    page = (index.parent / "toy.html").read_text()
    verdicts = page.split('<ul class="verdicts">')[1].split("</ul>")[0]
    assert "not measured: cells did not train (betavae-4, vae)" in verdicts and "holds" not in page
    assert page.count("cells did not train (betavae-4") == 1 and "encoder collapsed" in page
