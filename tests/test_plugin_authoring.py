"""The plugin-authoring guide's example package, installed with pip from its own folder and
found through the real `dgmbench` entry-point group."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness_helpers import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example-plugin"


def test_example_plugin_installs_lists_and_runs(tmp_path):
    target, source = tmp_path / "site", tmp_path / "example-plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # keep the repo clean
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    listing = run_cli("plugins", env=env)
    line = next(l for l in listing.stdout.splitlines() if l.startswith("pixel-logistic"))
    assert "dgmbench-example" in line and "0.1.0" in line and "models: pixel-logistic" in line
    r = run_cli("run", "--plugin", "pixel-logistic", "--budget", "smoke", "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    assert "pixel-logistic" in r.stdout and "bpd" in r.stdout
    # without the install, the same command says the plugin is unknown
    assert run_cli("run", "--plugin", "pixel-logistic").returncode == 2
