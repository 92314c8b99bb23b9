"""The two models: registration, configurations, training step, samples, and smoke runs through the CLI."""
import contextlib
import math
import subprocess
import sys

import pytest
import torch
from diffusion_helpers import build

from dgmbench.specs import DatasetSpec


def test_registered_light_and_with_a_bound_not_a_likelihood():
    from dgmbench.plugins import load_registry

    reg = load_registry()
    for name in ("ddpm", "deep-diffusion"):
        spec = reg.model_for(name)
        assert sorted(spec.capabilities) == ["elbo", "sample"] and spec.plugin == "diffusion"
    code = "import sys, dgmbench_diffusion.plugin; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_the_paper_configuration_is_the_default_on_cifar_shaped_data():
    from dgmbench_diffusion.ddpm import DDPM

    model = DDPM.build(DatasetSpec("c", "none:none", (3, 32, 32), levels=256), {})
    assert model.config["size"] == "paper" and model.process.T == 1000
    n = sum(p.numel() for p in model.parameters())
    assert 35.0e6 < n < 36.5e6, n  # Ho et al.: 35.7M parameters for CIFAR-10
    assert model.likelihood == "discrete"


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="objective"):
        build("ddpm", objective="nope")
    with pytest.raises(ValueError, match="size"):
        build("deep-diffusion", size="huge")


@pytest.mark.parametrize("name,extra", [("ddpm", {}), ("ddpm", {"objective": "bound"}), ("deep-diffusion", {})])
def test_a_training_step_is_finite_and_samples_are_images(name, extra):
    model = build(name, **extra).float().train()
    x = torch.randint(17, (8, 1, 4, 4)).float() / 16
    logs = model.train_step(x, None, model.configure_optimizers(1e-3), 0, contextlib.nullcontext)
    assert torch.isfinite(logs["loss"])
    s = model.sample(3)
    assert model.training and s.shape == (3, 1, 4, 4) and 0 <= s.min() and s.max() <= 1
    if model.likelihood == "discrete":
        torch.testing.assert_close(s * 16, (s * 16).round())


@pytest.mark.parametrize("name", ["ddpm", "deep-diffusion"])
def test_smoke_run_through_the_cli_stores_a_flagged_bound(name, tmp_path):
    r = subprocess.run([sys.executable, "-m", "dgmbench", "run", "--plugin", name, "--dataset", "digits", "--budget",
                        "smoke", "--device", "cpu", "--results", str(tmp_path / "r.sqlite"), "--out",
                        str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    from dgmbench.store import Store

    m = Store(tmp_path / "r.sqlite").metrics()
    values = dict(zip(m.name, m.value))
    assert values["nll_is_bound"] == 1.0
    assert math.isfinite(values["bpd"]) and values["bpd"] > 0, values  # 5 steps: a loose bound, but a bound
    assert list((tmp_path / "out").rglob("samples.png"))


@pytest.mark.parametrize("name", ["ddpm", "deep-diffusion"])
def test_a_bf16_autocast_step_gives_a_float32_finite_loss(name):
    """The harness trains under bf16 autocast on CUDA; the bound's terms are summed in float32."""
    model = build(name, objective="bound") if name == "ddpm" else build(name)
    model = model.float().train()
    x = torch.randint(17, (8, 1, 4, 4)).float() / 16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model.loss(x)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
