"""The claim checks on constructed tables with known answers."""
import pandas as pd

from dgmbench.protocols import cifar10_ordering, iwae_table, posterior_collapse


def _table(values: dict, column: str) -> pd.DataFrame:
    return pd.DataFrame({"cell": list(values) + [None], f"{column} (ours)": list(values.values()) + [None]})


def test_ordering_holds_and_fails():
    good = _table({"uniform": 8.0, "gaussian": 4.9, "realnvp": 3.6, "pixelcnnpp": 3.0}, "bpd")
    assert cifar10_ordering(good)[0].endswith("holds in 3 of 3 measured comparisons.")
    bad = _table({"uniform": 8.0, "realnvp": 5.0, "pixelcnn": 5.5}, "bpd")
    text = cifar10_ordering(bad)[0]
    assert "holds in 1 of 2" in text and "realnvp 5.000 <= pixelcnn 5.500" in text
    assert cifar10_ordering(_table({}, "bpd"))[0].endswith("not measured.")


def test_iwae_claims_count_each_comparison():
    nll = {"mnist-binary-l1-k1-iwae": 90.0, "mnist-binary-l1-k5-iwae": 89.0, "mnist-binary-l1-k50-iwae": 89.5,
           "mnist-binary-l1-k5-vae": 89.5, "mnist-binary-l2-k5-iwae": 88.0}
    df = _table(nll, "nll")
    df["active_units_layer1 (ours)"] = [None] * len(df)
    falls, beats, units, deeper = iwae_table(df)
    assert "holds in 1 of 2" in falls and "mnist-binary-l1-k50-iwae 89.50 >= mnist-binary-l1-k5-iwae 89.00" in falls
    assert "holds in 1 of 1" in beats
    assert units.endswith("not measured.")
    assert "holds in 1 of 1" in deeper


def test_posterior_collapse_claim():
    assert "holds in 2 of 2" in posterior_collapse(_table({"vae-diag": 0.0, "vae-full": 1.0}, "active_units"))[0]
    assert "holds in 1 of 2" in posterior_collapse(_table({"vae-diag": 1.0, "vae-full": 2.0}, "active_units"))[0]
