"""Run artifacts: the curves PNG, and what happens without matplotlib."""
import sys

from dgmbench.artifacts import save_curves

# rows as dgmbench.training.fit records them (the history table's step, name, value)
HISTORY = [{"step": 10, "name": "train/loss", "value": 3.0}, {"step": 20, "name": "train/loss", "value": 2.5},
           {"step": 20, "name": "test/bpd", "value": 4.2}]


def test_curves_are_written(tmp_path):
    path = save_curves(HISTORY, tmp_path / "curves.png", unit="bits/dim")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_plot_is_skipped_not_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert save_curves(HISTORY, tmp_path / "curves.png", unit="bits/dim") is None
    assert not (tmp_path / "curves.png").exists() and "matplotlib is not installed" in capsys.readouterr().out


def test_no_series_no_plot(tmp_path):
    """Rows that are neither training logs nor the held-out NLL in the run's unit draw nothing."""
    assert save_curves([{"step": 1, "name": "test/nll", "value": 1.0}], tmp_path / "c.png", unit="bits/dim") is None
    assert not (tmp_path / "c.png").exists()
