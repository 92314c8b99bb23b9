"""dgmbench report: the static site from a results file (pages, links, copied images, marks,
escaping, the results file left untouched) and, in headless Chromium, a real browser following
a link from the index to a run page whose table and image load."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from dgmbench.report import build_site
from dgmbench.specs import Cell, ProtocolSpec
from dgmbench.store import Store

MARKUP = "<script>alert(1)</script>"


def toy_protocol(tmp_path: Path) -> ProtocolSpec:
    ref = tmp_path / "toy_reference.csv"
    ref.write_text("model,bits_per_dim\nUniform,4.00\nGaussian,3.5\nPaper only,2.125\n")
    return ProtocolSpec(name="toy-bpd", version="1", reference=str(ref), columns={"bpd": "bits_per_dim"},
                        metrics=["nll"], description="a toy table", caption="Toy bits/dim.",
                        cells=[Cell("uniform", "uniform", "digits", labels={"model": "Uniform"}),
                               Cell("gaussian", "gaussian", "digits", labels={"model": "Gaussian"})])


def add_run(store: Store, folder: Path | None, status: str = "ok", metrics: dict | None = None, **fields) -> str:
    fields = {"protocol": "default", "model": "uniform", "dataset": "digits", "budget": "smoke", "seed": 0,
              "config": {}, "record": "{}", "device": "cpu", **fields}
    if folder is not None:
        folder.mkdir(parents=True)
        Image.new("RGB", (20, 12), (200, 30, 30)).save(folder / "samples.png")
        fields["out_dir"] = str(folder)
    run_id = store.start_run(**fields)
    if metrics:
        store.add_metrics(run_id, "nll", metrics)
    store.update_run(run_id, status=status, wall_time_s=1.5, finished=time.time())
    return run_id


@pytest.fixture
def store_file(tmp_path) -> Path:
    path = tmp_path / "res" / "results.sqlite"
    store = Store(path)
    runs = tmp_path / "res" / "runs"
    add_run(store, runs / "u0", protocol="toy-bpd", protocol_version="1", cell="uniform", metrics={"bpd": 4.0})
    add_run(store, runs / "u1", protocol="toy-bpd", protocol_version="1", cell="uniform", seed=1,
            metrics={"bpd": 4.2})
    add_run(store, runs / "g0", "partial", protocol="toy-bpd", protocol_version="1", cell="gaussian",
            model="gaussian", metrics={"bpd": 3.75})
    add_run(store, None, "failed", model="realnvp")  # an ad-hoc run that left no folder
    return path


def test_site_has_leaderboard_run_pages_and_copied_images(tmp_path, store_file):
    protocol = toy_protocol(tmp_path)
    before = hashlib.sha256(store_file.read_bytes()).hexdigest()
    index = build_site([store_file], tmp_path / "site", {"toy-bpd": protocol})
    assert hashlib.sha256(store_file.read_bytes()).hexdigest() == before  # a report only reads
    assert not (store_file.parent / "results.sqlite-wal").exists()
    site = index.parent
    assert 'href="toy-bpd.html"' in index.read_text()
    board = (site / "toy-bpd.html").read_text()
    assert "4.00" in board and "2.125" in board and "3.5" in board  # the reference's own digits
    assert "4.100 ± 0.141 (n=2)" in board and "3.750" in board  # mean ± sample std over two seeds
    assert board.count('class="mark"') == 1 + 2  # the partial cell, plus the legend's two
    run_links = [h for line in board.splitlines() for h in line.split('href="')[1:] if h.startswith("runs/")]
    assert len(run_links) == 3  # two seeds of one cell, one of the other
    for href in run_links:
        page = site / href.split('"')[0]
        html = page.read_text()
        src = html.split('<img src="')[1].split('"')[0]
        assert (page.parent / src).is_file() and Image.open(page.parent / src).size == (20, 12)
        assert 'href="../toy-bpd.html"' in html and "<table" in html
    pages = sorted(p.name for p in (site / "runs").glob("*.html"))
    assert len(pages) == 4  # the ad-hoc failed run has its page too
    failed = next(p for p in (site / "runs").glob("*.html") if "realnvp" in p.read_text())
    assert "failed" in failed.read_text() and "<img" not in failed.read_text()


def test_a_copied_results_file_is_read_once_and_each_board_says_where_it_was_measured(tmp_path, store_file):
    protocol = toy_protocol(tmp_path)
    copy = tmp_path / "copy" / "results.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(store_file, copy)
    gpu = tmp_path / "gpu" / "results.sqlite"
    add_run(Store(gpu), None, protocol="toy-bpd", protocol_version="1", cell="uniform", budget="full",
            device="cuda (NVIDIA H200)", metrics={"bpd": 3.9})
    index = build_site([store_file, copy, gpu], tmp_path / "site", {"toy-bpd": protocol})
    site = index.parent
    assert sorted(p.name for p in site.glob("toy-bpd*.html")) == ["toy-bpd-2.html", "toy-bpd.html"]
    assert len(list((site / "runs").glob("*.html"))) == 4 + 1  # the copy's runs are not listed twice
    rows = [r for r in index.read_text().split("<tr>") if 'href="toy-bpd' in r]
    assert len(rows) == 2 and "<td>cpu</td>" in rows[0] and "<td>cuda (NVIDIA H200)</td>" in rows[1]
    assert str(copy) not in index.read_text()


def test_markup_in_names_and_config_renders_as_text(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    add_run(store, tmp_path / "runs" / "x", model=MARKUP, dataset="imagefolder:<b>pics</b>",
            config={"note": '<img src=x onerror="alert(2)">', MARKUP: 1})
    index = build_site([tmp_path / "r.sqlite"], tmp_path / "site", {})
    pages = [index, *(index.parent / "runs").glob("*.html")]
    assert len(pages) == 2
    for page in pages:
        html = page.read_text()
        assert "<script>" not in html and "<b>pics" not in html and "onerror=\"alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    run_page = pages[1].read_text()
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in run_page


def test_report_command_and_a_missing_results_file(tmp_path, store_file, cli):
    out = cli("report", "--results", store_file, "--output", tmp_path / "site")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "site" / "index.html").is_file() and len(list((tmp_path / "site" / "runs").glob("*.html"))) == 4
    bad = cli("report", "--results", tmp_path / "nope.sqlite", "--output", tmp_path / "site2")
    assert bad.returncode == 2 and "no results file at" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "site2").exists()  # nothing written


# -- a real browser --------------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


class DevTools:
    """The Chrome DevTools protocol over ``--remote-debugging-pipe`` (JSON messages separated by
    NUL bytes on file descriptors 3 and 4): no driver and no websocket library needed."""

    def __init__(self, binary: str, profile: str):
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # the child sees the pipes as fds 3 (reads commands) and 4 (writes replies)
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(to_browser_r, 3), os.dup2(from_browser_w, 4)))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._id, self._buf = 0, b""

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self._buf:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, session: str, expression: str):
        return self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, session: str, expression: str, timeout: float = 20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                value = self.evaluate(session, expression)
            except RuntimeError:  # the page is navigating; ask again
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self._w)
        os.close(self._r)


def test_a_browser_follows_a_link_to_a_run_page_with_its_table_and_image(tmp_path, store_file):
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's `chromium` where apt-get works)")
    index = build_site([store_file], tmp_path / "site", {"toy-bpd": toy_protocol(tmp_path)})
    browser = DevTools(binary, tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    try:
        target = browser.send("Target.createTarget", url=index.as_uri())["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.wait_for(session, "document.readyState === 'complete' && !!document.querySelector('#leaderboards')")
        # the index links to the leaderboard; the leaderboard's cells link to run pages
        click = "setTimeout(() => document.querySelector({}).click(), 0)"  # after evaluate returns
        browser.evaluate(session, click.format(json.dumps("#leaderboards a")))
        browser.wait_for(session, "location.pathname.endsWith('/toy-bpd.html') && document.readyState === 'complete'")
        href = browser.evaluate(session, "document.querySelector('#leaderboard a[href^=\"runs/\"]').href")
        browser.evaluate(session, click.format(json.dumps('#leaderboard a[href^="runs/"]')))
        browser.wait_for(session, f"location.href === {json.dumps(href)} && document.readyState === 'complete'")
        found = browser.wait_for(session, "(() => { const img = document.querySelector('img');"
                                          " return !!document.querySelector('table#facts') && img && img.complete"
                                          " && img.naturalWidth > 0 && [img.naturalWidth, img.naturalHeight]; })()")
        assert found == [20, 12]
    finally:
        browser.close()


def test_pages_fit_a_1280_pixel_window_with_long_budget_names_and_wide_tables(tmp_path):
    """No sideways scrolling: a refined budget name of 200 characters wraps in the index, and a
    leaderboard of many value columns fits 1280 px."""
    binary = chromium()
    if binary is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's `chromium` where apt-get works)")
    budget = "quick[" + ",".join(f"metric_option_number_{i}=1000" for i in range(8)) + "]"
    values = [f"a_rather_long_value_name_{i}" for i in range(12)]
    spec = ProtocolSpec(name="wide", version="1", metrics=["nll"], values=values, description="a wide table",
                        cells=[Cell(f"cell-{i}", "uniform", "digits", labels={"model": f"model {i}"})
                               for i in range(3)])
    store = Store(tmp_path / "results.sqlite")
    for i in range(3):
        add_run(store, None, protocol="wide", protocol_version="1", cell=f"cell-{i}", budget=budget,
                metrics={v: 123456.789 + i for v in values})
    index = build_site([tmp_path / "results.sqlite"], tmp_path / "site", {"wide": spec})
    browser = DevTools(binary, tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    try:
        for page in (index, index.parent / "wide.html"):
            target = browser.send("Target.createTarget", url="about:blank")["targetId"]
            session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            browser.send("Emulation.setDeviceMetricsOverride", session, width=1280, height=800, deviceScaleFactor=1,
                         mobile=False)  # the window size first, then the page is laid out in it
            browser.send("Page.navigate", session, url=page.as_uri())
            browser.wait_for(session, "location.protocol === 'file:' && document.readyState === 'complete'"
                                      " && !!document.querySelector('table') && window.innerWidth === 1280")
            widths = browser.evaluate(session, "[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], (page.name, widths)
    finally:
        browser.close()
