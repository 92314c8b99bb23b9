"""The command line end to end, in fresh processes, as a user runs it."""
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from harness_helpers import make_plugin, run_cli
from plugin_sources import BROKEN, GOOD, HOOK_BUG, LYING, MALFORMED


def _runs(path="results/results.sqlite"):
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY created")]


def _metrics(run_id, path="results/results.sqlite"):
    db = sqlite3.connect(path)
    return dict(db.execute("SELECT name, value FROM metrics WHERE run_id = ?", (run_id,)).fetchall())


def test_run_smoke_on_digits_stores_everything():
    r = run_cli("run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "gaussian" in r.stdout and "bpd" in r.stdout
    (run,) = _runs()
    assert run["status"] == "ok" and run["dataset"] == "digits" and run["budget"] == "smoke"
    assert run["n_train"] == 256 and run["n_test"] == 128
    assert json.loads(run["libraries"])["torch"]
    assert run["wall_time_s"] > 0 and run["peak_memory_bytes"] > 0
    # the Gaussian fits itself in one call on all 256 examples (no steps)
    assert run["train_images_per_s"] == pytest.approx(256 / run["train_time_s"], rel=1e-6)
    assert (run["steps"], run["planned_steps"], run["stopped"]) == (0, 0, None)
    m = _metrics(run["run_id"])
    assert 0 < m["bpd"] < 20
    out = Path(run["out_dir"])
    for name in ("samples.png", "curves.png", "checkpoint.pt", "record.json"):
        assert (out / name).is_file(), name


def test_realnvp_default_job_smoke():
    r = run_cli("run", "--plugin", "realnvp", "--budget", "smoke", "--no-progress")
    assert r.returncode == 0, r.stderr
    (run,) = _runs()
    assert run["model"] == "realnvp" and run["status"] == "ok"
    assert 0 < _metrics(run["run_id"])["bpd"] < 50


def test_eval_rescoring_a_checkpoint_gives_the_same_number():
    assert run_cli("run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress").returncode == 0
    (run,) = _runs()
    r = run_cli("eval", "--checkpoint", Path(run["out_dir"]) / "checkpoint.pt", "--budget", "smoke")
    assert r.returncode == 0, r.stderr
    first, second = _runs()
    assert second["n_train"] == 0 and "eval of" in second["data_note"]
    assert _metrics(second["run_id"])["nll"] == pytest.approx(_metrics(first["run_id"])["nll"], rel=1e-9)


def test_eval_of_weights_trained_elsewhere_through_a_plugin(plugin_path, tmp_path):
    import torch

    make_plugin(plugin_path, "testplug", GOOD)
    assert run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress").returncode == 0
    (run,) = _runs()
    weights = torch.load(Path(run["out_dir"]) / "checkpoint.pt", weights_only=True)["model"]
    torch.save(weights, tmp_path / "elsewhere.pt")  # a bare state dict, as another codebase would save it
    r = run_cli("eval", "--checkpoint", tmp_path / "elsewhere.pt", "--plugin", "diag", "--dataset", "digits",
                "--budget", "smoke")
    assert r.returncode == 0, r.stderr
    first, second = _runs()
    assert second["model"] == "diag" and second["n_train"] == 0
    assert _metrics(second["run_id"])["nll"] == pytest.approx(_metrics(first["run_id"])["nll"], rel=1e-9)


def test_eval_of_a_foreign_state_dict_needs_the_model(tmp_path):
    import torch

    torch.save({"mu": torch.zeros(3)}, tmp_path / "w.pt")
    r = run_cli("eval", "--checkpoint", tmp_path / "w.pt")
    assert r.returncode == 2 and "pass --plugin and --dataset" in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["run", "--plugin", "gausian"], "unknown plugin or model 'gausian'; did you mean gaussian"),
    (["run", "--plugin", "gaussian", "--dataset", "digitz"], "unknown dataset 'digitz'; did you mean digits"),
    (["run", "--plugin", "gaussian", "--metric", "nlll"], "unknown metric 'nlll'; did you mean nll"),
    (["run", "--plugin", "gaussian", "--protocol", "cifar10-bdp"], "unknown protocol 'cifar10-bdp'"),
    (["run", "--plugin", "gaussian", "--budget", "quik"], "unknown budget 'quik'; did you mean quick"),
    (["leaderboard", "nope"], "unknown protocol 'nope'"),
    (["eval", "--checkpoint", "missing.pt"], "no checkpoint at missing.pt"),
])
def test_bad_names_get_one_line_and_exit_2(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_model_that_does_not_fit_the_data_is_one_line():
    r = run_cli("run", "--plugin", "pixelcnn", "--dataset", "toy2d", "--budget", "smoke")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "model 'pixelcnn' cannot be built for dataset 'toy2d'" in r.stderr


def test_missing_data_says_where_to_put_what(tmp_path):
    r = run_cli("run", "--plugin", "gaussian", "--dataset", "mnist", "--data-root", tmp_path / "empty")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "mnist not found under" in r.stderr and str(tmp_path / "empty") in r.stderr
    assert "download=True" not in r.stderr and r.stderr.count("download") == 1  # one message, ours


def test_missing_data_is_reported_before_torch_is_imported(tmp_path):
    """The dataset's declared files are checked in the preflight, without torch (about 4 s with
    torchvision): the error comes while ``torch`` is not in ``sys.modules``, names the file
    expected, ``--data-root`` and ``DGMBENCH_DATA``, and nothing is stored."""

    code = ("import sys\nfrom dgmbench.cli import main\nrc = main(sys.argv[1:])\n"
            "print('rc', rc, 'torch' in sys.modules)")
    for dataset, expected in (("mnist", "MNIST/raw/train-images-idx3-ubyte"),
                              ("cifar10", "cifar-10-batches-py/data_batch_1")):
        r = subprocess.run([sys.executable, "-c", code, "run", "--plugin", "gaussian", "--dataset", dataset,
                            "--data-root", str(tmp_path / "empty"), "--results", str(tmp_path / "out" / "r.sqlite")],
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.split() == ["rc", "2", "False"], r.stdout + r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert f"{dataset} not found under {tmp_path / 'empty'}: expected {expected}" in line
        assert "--data-root" in line and "DGMBENCH_DATA" in line
        assert not (tmp_path / "out").exists()


def test_corrupt_data_file_is_a_clear_error(tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"not a pickle at all")
    (folder / "test_batch").write_bytes(b"garbage")
    r = run_cli("run", "--plugin", "gaussian", "--dataset", "cifar10", "--data-root", tmp_path / "data")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cifar10: could not read" in r.stderr


def test_download_without_network_is_a_clear_error(tmp_path, monkeypatch):
    """torchvision's downloader, failing as it does offline, becomes one DataError line."""
    import urllib.error

    import torchvision.datasets.utils as tvu

    from dgmbench.datasets import load_mnist
    from dgmbench.errors import DataError

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvu, "urlretrieve", offline, raising=False)
    monkeypatch.setattr(tvu, "_urlretrieve", offline, raising=False)
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive",
                        lambda *a, **k: offline(), raising=False)
    with pytest.raises(DataError, match="download failed"):
        load_mnist("train", root=tmp_path, download=True)


def test_unsupported_metric_is_refused_before_training(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    r = run_cli("run", "--plugin", "clf", "--metric", "nll")
    assert r.returncode == 2
    assert "metric 'nll' needs log_prob or iw_bound or elbo; model 'clf' has classify" in r.stderr
    assert not Path("results/results.sqlite").exists() or not _runs()


def test_nan_loss_stops_the_run_and_marks_it_failed(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    assert run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress").returncode == 0
    r = run_cli("run", "--plugin", "diag", "--budget", "smoke", "--config", "nan_at_step=2", "--no-progress")
    assert r.returncode == 1
    assert "training diverged: loss = nan at step 3 (epoch 1)" in r.stderr and "Traceback" not in r.stderr
    ok, failed = _runs()
    assert ok["status"] == "ok" and _metrics(ok["run_id"])["bpd"] > 0  # what was stored stays
    assert failed["status"] == "failed" and "diverged" in failed["error"]


def test_a_failing_metric_keeps_the_others(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    r = run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress", "--config", "nan_samples=true",
                "--metric", "fid", "--metric", "nll", "--feature-net", "domain")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: metric fid:" in r.stderr and "non-finite" in r.stderr
    (run,) = _runs()
    assert run["status"] == "partial" and "metric fid" in run["error"]
    assert _metrics(run["run_id"])["bpd"] > 0


def test_ctrl_c_keeps_checkpoint_and_store_and_resume_continues(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    args = ["run", "--plugin", "diag", "--budget", "smoke", "--max-steps", "30", "--epochs", "4", "--no-progress"]
    # smoke: 256 examples / batch 32 = 8 steps an epoch; interrupt in epoch 3
    r = run_cli(*args, env={"TEST_INTERRUPT_AT_STEP": "20"})
    assert r.returncode == 130 and "--resume" in r.stderr and "Traceback" not in r.stderr
    (run,) = _runs()
    assert run["status"] == "interrupted" and run["epochs"] == 2
    import torch

    ck = torch.load(Path(run["out_dir"]) / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 2 and ck["step"] == 16
    r = run_cli(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert "smoke[epochs=4,max_steps=30]" in r.stdout  # the printed row names the refined budget
    first, second = _runs()
    assert first["status"] == "interrupted"
    assert second["status"] == "ok" and second["epochs"] == 4 and second["steps"] == 30


def test_sigterm_settles_the_run_like_ctrl_c(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    args = ["run", "--plugin", "diag", "--budget", "smoke", "--max-steps", "30", "--epochs", "4", "--no-progress"]
    r = run_cli(*args, env={"TEST_SIGNAL_AT_STEP": "20", "TEST_SIGNAL": "SIGTERM"})
    assert r.returncode == 143 and "terminated (SIGTERM)" in r.stderr and "Traceback" not in r.stderr
    (run,) = _runs()
    assert run["status"] == "interrupted" and "SIGTERM" in run["error"] and run["epochs"] == 2


def test_a_killed_run_is_marked_abandoned_and_stored_results_stay(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    assert run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress").returncode == 0
    r = run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress", "--seed", "1",
                env={"TEST_SIGNAL_AT_STEP": "2", "TEST_SIGNAL": "SIGKILL"})
    assert r.returncode == -9
    assert [run["status"] for run in _runs()] == ["ok", "running"]  # nobody could settle it
    from dgmbench.store import Store

    Store("results/results.sqlite")  # any later open of the store notices the dead process
    first, killed = _runs()
    assert first["status"] == "ok" and _metrics(first["run_id"])["nll"] > 0
    assert killed["status"] == "abandoned" and "killed" in killed["error"]


def rows_of(table: str) -> dict:
    """First column -> the row's text, its wrapped continuation lines joined on."""
    rows, last = {}, None
    for line in table.splitlines():
        if line.strip() and not line[0].isspace():
            last = line.split()[0]
            rows[last] = line
        elif line.strip() and last:
            rows[last] += " " + line.strip()
    return {k: " ".join(v.split()) for k, v in rows.items()}


def test_broken_and_malformed_plugins_are_named_and_isolated(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    make_plugin(plugin_path, "brokenplug", BROKEN)
    make_plugin(plugin_path, "badspecs", MALFORMED)
    r = run_cli("plugins")
    assert r.returncode == 0
    lines = rows_of(r.stdout)
    assert "BROKEN: import failed: ModuleNotFoundError" in lines["brokenplug"]
    assert "BROKEN" in lines["badspecs"] and "expected ModelSpec" in lines["badspecs"]
    assert "models: diag, clf" in lines["testplug"] and "0.0.1" in lines["testplug"]
    r = run_cli("run", "--plugin", "brokenplug")
    assert r.returncode == 2 and "plugin 'brokenplug' is broken: import failed" in r.stderr
    assert run_cli("run", "--plugin", "diag", "--budget", "smoke", "--no-progress").returncode == 0


def test_a_crashing_event_hook_fails_the_run_in_one_line(plugin_path):
    make_plugin(plugin_path, "hookbug", HOOK_BUG)
    r = run_cli("run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "error: RuntimeError: logger crashed (at " in r.stderr and "hookbug.py" in r.stderr
    (run,) = _runs()
    assert run["status"] == "failed" and "logger crashed" in run["error"]
    r = run_cli("run", "--plugin", "gaussian", "--budget", "smoke", "--no-progress", env={"DGMBENCH_DEBUG": "1"})
    assert "Traceback" in r.stderr


def test_a_model_that_lies_about_its_capabilities_is_refused(plugin_path):
    make_plugin(plugin_path, "testplug", GOOD)
    make_plugin(plugin_path, "liarplug", LYING.replace("testplug:", "testplug:"))
    r = run_cli("run", "--plugin", "liar", "--budget", "smoke")
    assert r.returncode == 2
    assert "model 'liar' declares ['log_prob'] but implements ['classify']" in r.stderr


def test_list_commands():
    for kind, needle in [("models", "gaussian"), ("datasets", "toy2d-checkerboard"), ("metrics", "nll"),
                         ("protocols", "cifar10-bpd")]:
        r = run_cli("list", kind)
        assert r.returncode == 0 and needle in r.stdout


def test_imagefolder_dataset(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    r = run_cli("run", "--plugin", "uniform", "--dataset", f"imagefolder:{tmp_path / 'imgs'}", "--budget", "smoke",
                "--no-progress")
    assert r.returncode == 0, r.stderr
    (run,) = _runs()
    # the parameter-free uniform model is fed no training example (n_train counts what was fed)
    assert run["n_train"] == 0 and run["n_test"] == 6
    assert "split 90/10" in run["data_note"] and "54 train, 6 test" in run["data_note"]  # the split is on record
    assert _metrics(run["run_id"])["bpd"] == pytest.approx(8.0, abs=1e-9)


def test_leaderboard_formats_put_ours_beside_the_paper(partial_cifar10):
    r = run_cli("run", "--plugin", "uniform", "--dataset", "cifar10", "--protocol", "cifar10-bpd", "--budget",
                "smoke", "--data-root", partial_cifar10, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "found 1 of 5 batch files (10000 images)" in r.stdout
    (run,) = _runs()
    assert "found 1 of 5 batch files" in run["data_note"]
    md = run_cli("leaderboard", "cifar10-bpd").stdout
    head = next(line for line in md.splitlines() if line.startswith("| model"))
    row = next(line for line in md.splitlines() if line.startswith("| Uniform distribution"))
    cols = dict(zip([c.strip() for c in head.strip("|").split("|")], [c.strip() for c in row.strip("|").split("|")]))
    assert (cols["bits_per_dim (paper)"], cols["bpd (ours)"]) == ("8.00", "8.000")  # the paper's digits kept
    assert cols["fid (paper)"] == ""  # the paper gives a FID for the DDPM rows only
    assert "budget smoke" in md and "cifar10-bpd v3" in md
    data = json.loads(run_cli("leaderboard", "cifar10-bpd", "--format", "json").stdout)
    uni = next(r for r in data["rows"] if r["cell"] == "uniform")
    assert uni["bpd (ours)"] == pytest.approx(8.0) and uni["bits_per_dim (paper)"] == 8.0
    csv = run_cli("leaderboard", "cifar10-bpd", "--format", "csv").stdout
    assert csv.splitlines()[0].startswith("model,cell,bits_per_dim (paper),fid (paper),bpd (ours)")
    tex = run_cli("leaderboard", "cifar10-bpd", "--format", "latex", "--output", "t.tex")
    assert tex.returncode == 0 and "\\caption{" in Path("t.tex").read_text()


def test_help_and_version():
    r = run_cli("--help")
    assert r.returncode == 0 and "leaderboard" in r.stdout
    assert run_cli("--version").stdout.startswith("dgmbench ")


def test_cli_does_not_import_torch_for_listing():
    code = ("import sys; from dgmbench.cli import main; main(['plugins']); main(['list', 'models']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().endswith("NO-TORCH")


def test_reproduce_fills_the_table_in_groups_and_keeps_every_command():
    common = ["reproduce", "posterior-collapse", "--budget", "smoke", "--no-progress", "--output", "lb/pc.md"]
    assert run_cli(*common, "--cells", "vae-diag").returncode == 0
    r = run_cli(*common, "--cells", "vae-full")
    assert r.returncode == 0, r.stderr
    table = Path("lb/pc.md").read_text()
    assert "budget smoke; 2 measured runs" in table
    assert "Latents unused for diagonal Sigma and used otherwise" in table
    rows = [line for line in table.splitlines() if line.startswith("| diagonal") or line.startswith("| non-diag")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert len(cells) == 2 and all(len(row) == 4 and all(row) for row in cells)  # both groups measured
    again = run_cli(*common, "--cells", "vae-diag")  # an interrupted table continues where it stopped
    assert again.returncode == 0 and "skip vae-diag / seed 0: already in the results file" in again.stdout
    assert len(_runs()) == 2
    prov = json.loads(Path("lb/pc.md.provenance.json").read_text())
    assert [c["command"].split("--cells ")[1] for c in prov["commands"]] == ["vae-diag", "vae-full", "vae-diag"]
    assert prov["budget"] == "smoke" and prov["libraries"]["torch"] and prov["code_version"]


def test_reproduce_scores_a_measured_cells_checkpoint_for_a_metric_added_later():
    common = ["reproduce", "posterior-collapse", "--budget", "smoke", "--no-progress", "--cells", "vae-diag"]
    assert run_cli(*common, "--metric", "nll").returncode == 0
    import io

    import pandas as pd

    def diag_row():
        csv = run_cli("leaderboard", "posterior-collapse", "--budget", "smoke", "--format", "csv").stdout
        return pd.read_csv(io.StringIO(csv)).set_index("cell").loc["vae-diag"]

    assert pd.isna(diag_row()["active_units (ours)"]) and diag_row()["nll (ours)"] > 0
    r = run_cli(*common, "--metric", "nll", "--metric", "active_units")
    assert r.returncode == 0, r.stderr
    assert "measured; scoring its checkpoint for active_units" in r.stdout
    trained, scored = _runs()
    assert scored["n_train"] == 0 and scored["cell"] == "vae-diag" and scored["budget"] == "smoke"
    assert set(_metrics(scored["run_id"])) >= {"active_units"} and "nll" not in _metrics(scored["run_id"])
    assert diag_row()["active_units (ours)"] >= 0 and diag_row()["nll (ours) seeds"] == 1  # same cell
    assert "skip vae-diag" in run_cli(*common, "--metric", "active_units").stdout  # nothing left to do
    Path(trained["out_dir"], "checkpoint.pt").unlink()
    r = run_cli(*common, "--metric", "elbo_surgery")
    assert r.returncode == 1 and "checkpoint is gone" in r.stderr and len(_runs()) == 2
