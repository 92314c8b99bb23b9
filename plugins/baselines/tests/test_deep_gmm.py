"""Deep GMM: its density is the explicit mixture over paths, integrates to one, samples match it,
and it runs through the CLI."""
import itertools
import math
import subprocess
import sys

import pytest
import torch
from dgmbench_baselines.deep_gmm import DeepGMM

from dgmbench.testing import isolated  # noqa: F401  (autouse: each test its own results file and folder)


def random_model(dim: int, nodes, seed=0) -> DeepGMM:
    model = DeepGMM((dim,), {"nodes": nodes}).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def explicit_mixture(model: DeepGMM):
    """(weights, means, covariances) of every path, built by multiplying the maps out."""
    weights = torch.softmax(model.path_logits, 0)
    D = model.off[0].shape[-1]
    means, covs = [], []
    for path in itertools.product(*[range(n) for n in model.nodes]):  # index order k_1, k_2, ... (k_L fastest)
        M, mu = torch.eye(D, dtype=torch.float64), torch.zeros(D, dtype=torch.float64)
        for layer, k in enumerate(path):  # x = A_1(A_2(...) + b_2) + b_1: M = A_1 A_2 ..., mu = b_1 + A_1 b_2 + ...
            A = torch.linalg.inv(model.precision_factor(layer)[k])
            mu = mu + M @ model.bias[layer][k]
            M = M @ A
        means.append(mu)
        covs.append(M @ M.T)
    return weights, torch.stack(means), torch.stack(covs)


def test_log_prob_is_the_mixture_over_paths():
    model = random_model(3, [3, 2, 2])
    w, mu, cov = explicit_mixture(model)
    x = torch.randn(7, 3, dtype=torch.float64)
    comp = torch.distributions.MultivariateNormal(mu, covariance_matrix=cov).log_prob(x[:, None])
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x), torch.logsumexp(w.log() + comp, 1))


@pytest.mark.parametrize("dim,nodes", [(1, [3, 2]), (2, [2, 2, 2])])
def test_the_density_integrates_to_one(dim, nodes):
    model = random_model(dim, nodes, seed=1)
    _, mu, cov = explicit_mixture(model)
    spread = 8 * cov.diagonal(dim1=1, dim2=2).sqrt().max().item()
    lo, hi = mu.min().item() - spread, mu.max().item() + spread
    n = 4001 if dim == 1 else 801
    axis = torch.linspace(lo, hi, n, dtype=torch.float64)
    grid = torch.cartesian_prod(*[axis] * dim).view(-1, dim)
    with torch.no_grad():
        density = model.log_prob(grid).exp().view(*[n] * dim)
    h = axis[1] - axis[0]
    total = density
    for _ in range(dim):
        total = torch.trapezoid(total, dx=h, dim=0)
    assert abs(total.item() - 1) < 1e-3, total


def test_samples_have_the_mixture_moments():
    model = random_model(2, [2, 3])
    w, mu, cov = explicit_mixture(model)
    mean = (w[:, None] * mu).sum(0)
    second = (w[:, None, None] * (cov + mu[:, :, None] * mu[:, None, :])).sum(0)
    torch.manual_seed(0)
    n = 40000
    x = model.sample(n, clip=False)
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(x.T @ x / n, second, atol=0.1, rtol=0.05)


def test_bad_nodes_are_refused():
    with pytest.raises(ValueError, match="nodes"):
        DeepGMM((4,), {"nodes": [2, 0]})


def test_smoke_run_through_the_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "dgmbench", "run", "--plugin", "deep-gmm", "--dataset", "digits",
                        "--budget", "smoke", "--device", "cpu", "--results", str(tmp_path / "r.sqlite"),
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    from dgmbench.store import Store

    values = dict(zip(*Store(tmp_path / "r.sqlite").metrics()[["name", "value"]].T.values))
    assert values["nll_is_bound"] == 0.0 and 0 < values["bpd"] < 2 * math.log2(17), values


def test_log_prob_is_float32_under_bf16_autocast():
    model = DeepGMM((16,), {"nodes": [2, 2]})
    x = torch.rand(4, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = model.log_prob(x)
    assert under.dtype == torch.float32
    torch.testing.assert_close(under, model.log_prob(x))
