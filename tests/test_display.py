"""How values read in tables, terminals and pages: counts as integers, 0/1 flags as yes / no, no
HTML entity where plain text is safe (markdown and terminal output), markup still inert."""
from __future__ import annotations

import time

from dgmbench import leaderboard
from dgmbench.browse import runs_table, show_run
from dgmbench.report import build_site
from dgmbench.specs import Cell, ProtocolSpec
from dgmbench.store import Store


def protocol(caption="IWAE beats VAE at the same k > 1; a <b>tag</b> stays text.") -> ProtocolSpec:
    return ProtocolSpec(name="toy", version="1", metrics=["nll"], values=["parameters", "active_units", "nll",
                                                                           "nll_is_bound"],
                        caption=caption, cells=[Cell("a", "uniform", "digits", labels={"model": "A"}),
                                                Cell("b", "gaussian", "digits", labels={"model": "B"})])


def store_with(tmp_path, rows) -> Store:
    store = Store(tmp_path / "results.sqlite")
    for cell, seed, metrics in rows:
        run = store.start_run(protocol="toy", protocol_version="1", model="uniform", dataset="digits",
                              budget="smoke", seed=seed, cell=cell, config={}, record="{}", device="cpu")
        store.add_metrics(run, "nll", metrics)
        store.update_run(run, status="ok", wall_time_s=1.0, finished=time.time())
    return store


ROWS = [("a", 0, {"parameters": 464154.0, "active_units": 12.0, "nll": 90.25, "nll_is_bound": 1.0}),
        ("a", 1, {"parameters": 464154.0, "active_units": 13.0, "nll": 91.75, "nll_is_bound": 1.0}),
        ("b", 0, {"parameters": 1000.0, "active_units": 5.0, "nll": 88.0, "nll_is_bound": 0.0}),
        ("b", 1, {"parameters": 1000.0, "active_units": 5.0, "nll": 88.0, "nll_is_bound": 1.0})]


def cells_of(md: str, model: str) -> dict:
    lines = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    row = next(line for line in lines[2:] if line.strip("|").split("|")[0].strip() == model)
    return dict(zip(header, (c.strip() for c in row.strip("|").split("|"))))


def test_counts_are_integers_flags_are_words_and_measurements_keep_their_spread(tmp_path):
    df, caption = leaderboard.build(protocol(), store_with(tmp_path, ROWS), "smoke")
    md = leaderboard.export(df, caption, "md")
    a, b = cells_of(md, "A"), cells_of(md, "B")
    assert a["parameters (ours)"] == "464154 (n=2)" and "464154.000" not in md
    assert a["active_units (ours)"] == "12.500 ± 0.707 (n=2)" and b["active_units (ours)"] == "5 (n=2)"
    assert a["nll (ours)"] == "91.000 ± 1.061 (n=2)" and b["nll (ours)"] == "88.000 ± 0.000 (n=2)"
    assert a["nll_is_bound (ours)"] == "yes" and b["nll_is_bound (ours)"] == "mixed (50% of seeds)"
    assert "± 0.000 (n=2)" not in a["nll_is_bound (ours)"]
    # the csv keeps the raw numbers (a program reads them)
    assert "464154.0" in leaderboard.export(df, caption, "csv")


def test_markdown_and_terminal_text_has_no_entities_where_plain_text_is_safe(tmp_path):
    df, caption = leaderboard.build(protocol(), store_with(tmp_path, ROWS), "smoke")
    md = leaderboard.export(df, caption, "md")
    assert "at the same k > 1" in md and "&gt;" not in md
    assert "&lt;b>tag&lt;/b>" in md and "<b>" not in md  # a tag still cannot open
    assert leaderboard._md_text("a < b and x<y, 3 <= 4 | c") == "a < b and x&lt;y, 3 <= 4 \\| c"


def test_runs_show_and_the_run_page_print_counts_and_flags_plainly(tmp_path):
    store = store_with(tmp_path, ROWS[:1])
    assert "active_units=12 " in runs_table(store)
    shown = show_run(store, store.runs().run_id.iloc[0])
    assert "464154" in shown and "4.642e+05" not in shown and "464154.0" not in shown
    assert any(line.split()[-1:] == ["yes"] for line in shown.splitlines() if "nll_is_bound" in line)
    index = build_site([store.path], tmp_path / "site", {"toy": protocol()})
    page = next((index.parent / "runs").glob("*.html")).read_text()
    assert "<td class=\"num\">464154</td>" in page and "<td class=\"num\">yes</td>" in page
    assert "464154.0000" not in page
