"""The public array-level metrics API: the runnable example of docs/metrics.md runs as written
(its closing assertion is the exact NLL of a linear-Gaussian model), known answers through
``dgmbench.metrics``, and ``dgmbench score-folder`` end to end with a plugin's feature network."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from harness_helpers import make_plugin, run_cli

import dgmbench.metrics as M

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_the_documented_example_runs(capsys):
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    exec(compile(code, str(DOC), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert float(printed[0]) == pytest.approx(2.0, abs=0.15)  # 8 * 0.5^2
    assert printed[2] == "(1.0, 1.0)"
    assert eval(printed[3]) == pytest.approx((10.0, 0.0), abs=1e-9)


def test_the_public_names_and_their_conventions():
    assert set(M.arrays.__all__) <= set(dir(M))
    probs = np.full((100, 4), 0.25)
    assert M.inception_score(probs) == pytest.approx((1.0, 0.0))
    with pytest.raises(ValueError):
        M.inception_score(np.log(probs))  # logits are refused: probabilities only
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) * 0.1  # fake: a tight core of real
    precision, recall = M.precision_recall(real, fake)
    assert precision > 0.95 and recall < 0.5
    assert M.precision_recall(fake, real) == pytest.approx((recall, precision))  # the order matters


def test_importance_sampled_nll_rises_to_the_exact_value_with_k():
    """q(z | x) = N(0, 1) instead of the posterior: the k-sample bound is loose at k = 1 and
    tightens towards -log N(x; 0, 2) as k grows (Burda et al. 2016)."""
    normal = torch.distributions.Normal

    class PriorProposal:
        def log_importance_weights(self, x, k):
            z = torch.randn(k, *x.shape)
            return normal(z, 1.0).log_prob(x)  # log p(x|z) + log p(z) - log q(z), with q = p(z)

    torch.manual_seed(0)
    x = torch.tensor([0.5, -1.0, 2.0])
    exact = -normal(0.0, 2 ** 0.5).log_prob(x).double()
    gaps = [(M.importance_sampled_nll(PriorProposal(), x.repeat(200), k=k).view(200, 3).mean(0) - exact).sum()
            for k in (1, 10, 1000)]
    assert gaps[0] > gaps[1] > gaps[2] > -0.01 and gaps[2] < 0.05
    with pytest.raises(TypeError):
        M.importance_sampled_nll(object(), x)


FLAT = """
from dgmbench import FeatureNetworkSpec, hookimpl


@hookimpl
def dgmbench_feature_networks():
    return [FeatureNetworkSpec("flat", "flatnet:build", description="the pixels themselves")]


def build(dataset, ctx):
    import torch

    return lambda x: (x.flatten(1), torch.zeros(len(x), 5))  # uniform class probabilities: IS = 1
"""


def test_score_folder_with_a_plugins_feature_network(tmp_path, plugin_path):
    from PIL import Image

    make_plugin(plugin_path, "flatnet", FLAT)
    rng = np.random.default_rng(0)
    for folder in ("real", "fake"):
        (tmp_path / folder).mkdir()
    for i in range(60):
        pixels = rng.integers(0, 200, (4, 4), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "real" / f"{i}.png")
        Image.fromarray(pixels + 30).save(tmp_path / "fake" / f"{i}.png")  # every pixel 30 levels brighter
    out = run_cli("score-folder", tmp_path / "real", tmp_path / "fake", "--feature-net", "flat")
    assert out.returncode == 0, out.stderr
    values = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()[2:]}
    assert values["fid"] == pytest.approx(16 * (30 / 255) ** 2, rel=1e-4)  # ||mu shift||^2, same covariance
    assert values["is"] == pytest.approx(1.0) and values["n_real"] == values["n_fake"] == 60
    same = run_cli("score-folder", tmp_path / "real", tmp_path / "real", "--feature-net", "flat")
    same_values = {line.split()[0]: float(line.split()[1]) for line in same.stdout.splitlines()[2:]}
    assert same_values["fid"] == pytest.approx(0.0, abs=1e-9)
    assert same_values["precision"] == same_values["recall"] == 1.0
    bad = run_cli("score-folder", tmp_path / "real", tmp_path / "nothing", "--feature-net", "flat")
    assert bad.returncode == 2 and "is not a folder" in bad.stderr
