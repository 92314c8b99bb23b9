"""Run artifacts: the curves PNG, and what happens without matplotlib."""
import sys

from dgmbench.artifacts import save_curves

HISTORY = [{"epoch": 1, "step": 10, "seconds": 1.0, "loss": 3.0}, {"epoch": 2, "step": 20, "seconds": 2.0, "loss": 2.5}]


def test_curves_are_written(tmp_path):
    path = save_curves(HISTORY, tmp_path / "curves.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_plot_is_skipped_not_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert save_curves(HISTORY, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists() and "matplotlib is not installed" in capsys.readouterr().out
