"""The sweep (``dgmbench reproduce``): cells claimed in the store so that two sweeps on one results
file never run a cell twice, a ``partial`` cell run again, unknown cells, ``list cells``."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from harness_helpers import make_plugin, run_cli

from dgmbench.cli import main
from dgmbench.store import Store

#: a protocol of one cheap cell (the closed-form Gaussian on digits) whose metric ``flaky`` fails
#: while $FLAKY_FAIL is set: a run of it ends ``partial``
FLAKY = '''
import os
from dgmbench import Cell, MetricSpec, ProtocolSpec, hookimpl
from dgmbench.errors import DgmbenchError


def flaky(ctx):
    if os.environ.get("FLAKY_FAIL"):
        raise DgmbenchError("flaky metric asked to fail")
    return {"flaky": 1.0}


@hookimpl
def dgmbench_metrics():
    return [MetricSpec("flaky", "flaky:flaky", description="fails while FLAKY_FAIL is set")]


@hookimpl
def dgmbench_protocols():
    return [ProtocolSpec("flaky-proto", "1", [Cell("g", "gaussian", "digits"), Cell("u", "uniform", "digits")],
                         ["nll", "flaky"], values=["bpd", "flaky"])]
'''


def _rows(path) -> list:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT cell, seed, status, pid FROM runs ORDER BY created").fetchall()


def test_two_sweeps_started_together_run_each_cell_once(tmp_path, plugin_path):
    """Both processes read the results file before either stores a row: without claims each runs
    all six (cell, seed) pairs (12 rows); with claims each pair runs once."""
    make_plugin(plugin_path, "flaky", FLAKY)
    argv = [sys.executable, "-m", "dgmbench", "reproduce", "flaky-proto", "--budget", "smoke", "--seeds", "0", "1",
            "2", "--no-progress"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    rows = _rows(os.environ["DGMBENCH_RESULTS"])
    assert sorted((c, s) for c, s, *_ in rows) == sorted((c, s) for c in "gu" for s in (0, 1, 2)), rows
    assert {st for _, _, st, _ in rows} == {"ok"}
    said = "".join(o for o, _ in outs)
    assert said.count("skip ") == 6, said  # each pair skipped by one process: run elsewhere, or stored already
    with sqlite3.connect(os.environ["DGMBENCH_RESULTS"]) as db:
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # every claim released


def test_a_claim_holds_while_its_process_lives_and_is_void_once_it_dies(tmp_path):
    path = tmp_path / "r.sqlite"
    holder = ("import sys, time; from dgmbench.store import Store; "
              f"print(Store({str(path)!r}).claim('p', '1', 'smoke', [('a', 0)]), flush=True); "
              "time.sleep(float(sys.argv[1]))")
    live = subprocess.Popen([sys.executable, "-c", holder, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline().strip() == "[('a', 0)]"
        store = Store(path)
        assert store.claim("p", "1", "smoke", [("a", 0), ("b", 0)]) == [("b", 0)]  # a: held by a live process
        assert store.claim("p", "2", "smoke", [("a", 0)]) == [("a", 0)]  # another protocol version: free
    finally:
        live.kill()
        live.wait()
    assert Store(path).claim("p", "1", "smoke", [("a", 0)]) == [("a", 0)]  # its holder died: void
    Store(path).release("p", "1", "smoke", [("a", 0), ("b", 0)])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT cell, protocol_version FROM claims").fetchall() == [("a", "2")]


def test_a_partial_cell_is_run_again_when_asked_again(plugin_path, monkeypatch, capsys):
    make_plugin(plugin_path, "flaky", FLAKY)
    argv = ["reproduce", "flaky-proto", "--budget", "smoke", "--cells", "g", "--no-progress"]
    monkeypatch.setenv("FLAKY_FAIL", "1")
    assert main(argv) == 1
    monkeypatch.delenv("FLAKY_FAIL")
    capsys.readouterr()
    assert main(argv) == 0
    assert "resume g / seed 0: a metric failed earlier" in capsys.readouterr().out
    assert [st for _, _, st, _ in _rows(os.environ["DGMBENCH_RESULTS"])] == ["partial", "ok"]
    assert main(argv) == 0  # measured now: skipped
    assert "skip g / seed 0: already in the results file" in capsys.readouterr().out


def test_an_unknown_cell_is_one_line_and_list_cells_names_them(plugin_path, capsys):
    make_plugin(plugin_path, "flaky", FLAKY)
    assert main(["reproduce", "flaky-proto", "--budget", "smoke", "--cells", "nosuchcell"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown cell of protocol flaky-proto 'nosuchcell'" in err and "g, u" in err
    assert not os.path.exists(os.environ["DGMBENCH_RESULTS"])
    assert main(["list", "cells", "flaky-proto"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["cell", "model", "dataset", "config"]
    cells = out[2:out.index("")]  # the budgets table follows, after a blank line
    assert [line.split()[:3] for line in cells] == [["g", "gaussian", "digits"], ["u", "uniform", "digits"]]
    assert main(["list", "cells"]) == 2 and "name the protocol" in capsys.readouterr().err


def test_list_cells_shows_a_cells_config(capsys):
    assert main(["list", "cells", "posterior-collapse"]) == 0
    out = capsys.readouterr().out
    assert "vae-diag" in out and "gaussian-diag" in out and "latent=2" in out


def test_list_cells_shows_the_budgets_with_their_notes_and_list_protocols_names_them(capsys, monkeypatch):
    """posterior-collapse sizes cpu (3,000 steps of batch 64) and gpu, with notes; the others are
    the harness's (smoke: 5 steps of 32, full: 100 epochs)."""
    from dgmbench.plugins import load_registry

    monkeypatch.setenv("COLUMNS", "120")
    assert main(["list", "cells", "posterior-collapse"]) == 0
    cells, budgets = capsys.readouterr().out.split("\n\n")
    lines = budgets.splitlines()
    assert lines[0].split() == ["budget", "work", "note"] and max(map(len, lines)) <= 120
    rows = {line.split()[0]: line for line in lines[2:] if not line.startswith(" ")}
    assert list(rows) == ["smoke", "quick", "cpu", "gpu", "full"]
    note = load_registry().items["protocols"]["posterior-collapse"].budgets["cpu"]["note"]
    assert "3,000 steps, batch 64" in rows["cpu"] and " ".join(note.split()[:5]) in rows["cpu"]
    assert "5 steps, batch 32" in rows["smoke"] and "100 epochs, batch 64" in rows["full"]
    assert rows["smoke"].split()[-1] == "-"  # no note
    assert main(["list", "protocols"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("posterior-collapse ")]
    assert "cpu, gpu" in row


@pytest.mark.parametrize("statuses, max_seconds, trained, again", [
    ({"ok"}, None, 10.0, False), ({"ok", "truncated"}, None, 10.0, False), ({"truncated"}, None, 10.0, True),
    ({"truncated"}, 5.0, 10.0, False), ({"truncated"}, 20.0, 10.0, True), ({"partial"}, None, 10.0, True),
    ({"partial", "truncated"}, 5.0, 10.0, True), ({"partial", "ok"}, None, 10.0, False),
])
def test_which_measured_cells_train_on(statuses, max_seconds, trained, again):
    from dgmbench.sweep import Done, train_on

    assert train_on(Done(set(), None, statuses), max_seconds, trained) is again
    assert train_on(None, max_seconds, trained) is False


def test_sweep_answers_fast_for_a_bad_cell():
    start = time.perf_counter()
    r = run_cli("reproduce", "posterior-collapse", "--cells", "vae-dag", "--budget", "smoke")
    assert r.returncode == 2 and "did you mean vae-diag" in r.stderr and r.stderr.count("\n") == 1
    assert time.perf_counter() - start < 30
