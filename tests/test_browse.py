"""dgmbench runs / show: the stored runs in the terminal, filtered, and one run in full; a run
named by an ambiguous or unknown prefix is one clear line with exit code 2."""
from __future__ import annotations

import time

from dgmbench.cli import main
from dgmbench.store import Store


def make_store(path):
    store = Store(path)
    ids = []
    for i, (status, protocol) in enumerate([("ok", "cifar10-bpd"), ("failed", "default"), ("ok", "default")]):
        run_id = store.start_run(run_id=f"ab{i}{'x' * 9}", protocol=protocol, model=f"model{i}", dataset="digits",
                                 budget="smoke", seed=i, config={"hidden": 8 * (i + 1)}, record="{}", device="cpu")
        store.add_metrics(run_id, "nll", {"bpd": 2.5 + i, "nll": 100.0 + i})
        store.update_run(run_id, status=status, wall_time_s=1.0 + i, finished=time.time())
        ids.append(run_id)
        time.sleep(0.01)  # distinct creation times: the list is oldest first
    return ids


def table_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()[2:]]


def test_runs_lists_filters_and_limits(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "r.sqlite"
    ids = make_store(path)
    assert main(["runs", "--results", str(path)]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ids and "bpd=2.5" in rows[0] and "nll=100" in rows[0]
    assert main(["runs", "--results", str(path), "--status", "ok", "--last", "1"]) == 0
    assert [r[0] for r in table_rows(capsys.readouterr().out)] == [ids[2]]
    assert main(["runs", "--results", str(path), "--protocol", "cifar10-bpd"]) == 0
    assert [r[0] for r in table_rows(capsys.readouterr().out)] == [ids[0]]
    assert main(["runs", "--results", str(path), "--status", "interrupted"]) == 0
    assert capsys.readouterr().out.strip() == "no runs match"


def test_show_prints_one_run_and_refuses_unclear_names(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    ids = make_store(path)
    before = path.read_bytes()
    assert main(["show", ids[1][:3], "--results", str(path)]) == 0
    out = capsys.readouterr().out
    assert ids[1] in out and "model1" in out and "failed" in out and "hidden" in out and "16" in out
    assert "3.5" in out and "101" in out  # its metric values
    assert path.read_bytes() == before  # showing never writes
    assert main(["show", "ab", "--results", str(path)]) == 2
    assert "names 3 runs" in capsys.readouterr().err
    assert main(["show", "zz", "--results", str(path)]) == 2
    assert "no run 'zz'" in capsys.readouterr().err
    assert main(["runs", "--results", str(tmp_path / "missing.sqlite")]) == 2


def test_show_lists_the_config_a_model_filled_in_while_building(tmp_path, capsys, monkeypatch):
    """WGAN declares no defaults: its sizes (width 128 for 2-D data), n_critic 5 and clip 0.01 are
    filled inside ``build``. The stored row holds the config the built model ran with, so
    ``show`` prints those values by name, and ``--config`` wins over them."""
    import json
    import sqlite3

    import pytest

    pytest.importorskip("dgmbench_gans")
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "r.sqlite"
    assert main(["run", "--plugin", "wgan", "--dataset", "toy2d-ring8", "--budget", "smoke", "--max-steps", "2",
                 "--grid-samples", "0", "--config", "z_dim=4", "--no-progress", "--device", "cpu",
                 "--results", str(path), "--out", str(tmp_path / "runs")]) == 0
    capsys.readouterr()
    with sqlite3.connect(path) as db:
        run_id, config = db.execute("SELECT run_id, config FROM runs").fetchone()
    assert main(["show", run_id, "--results", str(path)]) == 0
    rows = {r[0]: r[1] for r in (line.split() for line in capsys.readouterr().out.splitlines()) if len(r) == 2}
    assert rows["n_critic"] == "5" and rows["clip"] == "0.01" and rows["width"] == "128" and rows["z_dim"] == "4"
    stored = json.loads(config)
    assert stored["optimizer"] == "rmsprop" and stored["layers"] == 3
