"""Planar flows: the density model (exact log_prob, normalized 2-D density, numerical inverse for
sampling) and the planar-flow VAE (log q_K by change of variables, bounds, shapes)."""
import math

import pytest
import torch
from dgmbench_flows.models.planar import PlanarDensity, PlanarVAE
from flow_helpers import brute_force_logdet, grid_mass, randomize

from dgmbench.specs import DatasetSpec

TOY = DatasetSpec("toy2d", "x:y", (2,), levels=None)
BIN = DatasetSpec("binary", "x:y", (1, 4, 4), levels=2)


def _density(std=0.3):
    torch.manual_seed(0)
    m = randomize(PlanarDensity.build(TOY, {"flows": 8}).double(), std)
    m.train()
    m.log_prob(torch.randn(64, 2, dtype=torch.float64) * 2 + 1)  # actnorm init
    return m.eval()


def test_density_inverse_and_logdet():
    m = _density()
    x = torch.randn(6, 2, dtype=torch.float64) * 2
    z, logdet = m.flow(x)
    torch.testing.assert_close(m.flow.inverse(z), x, atol=1e-9, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(m.flow, x), atol=1e-8, rtol=1e-8)


def test_density_integrates_to_one():
    m = _density()
    assert grid_mass(m.log_prob, -12, 14, 600) == pytest.approx(1.0, abs=1e-2)


def test_sample_inverts_the_flow():
    m = _density()
    s = m.sample(200)
    assert s.shape == (200, 2) and torch.isfinite(s).all()
    torch.manual_seed(5)
    z = m.prior_sample(50)
    torch.testing.assert_close(m.flow(m.flow.inverse(z))[0], z, atol=1e-9, rtol=0)


def _vae():
    torch.manual_seed(0)
    return PlanarVAE.build(BIN, {"latent": 3, "hidden": [16], "flows": 4}).double()


def test_vae_log_q_is_the_change_of_variables():
    """log q_K(z_K) = log q_0(z_0) - log|det dz_K/dz_0|, checked against the brute-force Jacobian."""
    m = _vae()
    x = torch.bernoulli(torch.full((2, 1, 4, 4), 0.5, dtype=torch.float64))
    _, _, u_hat, w, b = m.posterior(x)
    z0 = torch.randn(2, 3, dtype=torch.float64)
    _, logdet = m.flow(z0, u_hat, w, b)
    for i in range(2):
        f = lambda v: m.flow(v[None], u_hat[i:i + 1], w[i:i + 1], b[i:i + 1])[0][0]
        jac = torch.autograd.functional.jacobian(f, z0[i])
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1])
        assert (w[i] * u_hat[i]).sum(-1).min() > -1  # the invertibility constraint


def test_vae_bounds_shapes_and_capabilities():
    m = _vae()
    assert m.capabilities() == {"elbo", "iw_bound", "sample", "encode"} and m.likelihood == "discrete"
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.3, dtype=torch.float64))
    torch.manual_seed(1)
    lw = m.log_importance_weights(x, 2000)
    assert lw.shape == (2000, 5) and torch.isfinite(lw).all()
    iw = torch.logsumexp(lw, 0) - math.log(2000)
    assert (iw >= lw.mean(0)).all()          # Jensen: the IWAE bound is above the ELBO
    assert (iw <= 0).all()                    # a log-probability of binary data
    assert m.elbo(x).shape == (5,)
    (z,) = m.encode(x)
    assert z.shape == (5, 3)
    s = m.sample(4)
    assert s.shape == (4, 1, 4, 4) and 0 <= s.min() and s.max() <= 1


def test_vae_training_step_lowers_the_loss():
    m = _vae().float()
    x = torch.bernoulli(torch.full((64, 1, 4, 4), 0.2))
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    torch.manual_seed(0)
    first = m.loss(x).item()
    for _ in range(60):
        opt.zero_grad()
        m.loss(x).backward()
        opt.step()
    assert m.loss(x).item() < first - 1.0


def test_vae_refuses_non_binary_data():
    with pytest.raises(ValueError, match="binary"):
        PlanarVAE.build(DatasetSpec("digits", "x:y", (1, 8, 8), levels=17), {})


def test_planar_vae_smoke_run_on_binarized_mnist(tmp_path):
    import os
    from pathlib import Path

    from dgmbench.runner import execute
    from dgmbench.specs import RunRecord

    data = Path(os.environ.get("DGMBENCH_TEST_DATA", Path(__file__).resolve().parents[4] / "shared" / "data"))
    if not (data / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared data not found at {data}")
    out = execute(RunRecord(model="planar-vae", dataset="mnist-binary", budget="smoke", device="cpu",
                            data_root=str(data), config={"flows": 2}), results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok" and math.isfinite(out.metrics["nll"]) and out.metrics["nll"] > 0
    assert out.metrics["nll_elbo"] >= out.metrics["nll"] - 1.0  # the ELBO bound is above the IS estimate
