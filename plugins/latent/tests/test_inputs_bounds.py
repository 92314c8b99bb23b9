"""What the VAE's and IWAE's train steps hand their bound: the registered models' k (1 for the
VAE, 5 for the IWAE, Burda et al. 2016's middle setting), and the loss built from those k
log-weights by the model's own estimator (the mean for the VAE, log-mean-exp for the IWAE)."""
import math

import pytest
import torch

from dgmbench.plugins import load_registry
from dgmbench.runner import build_model
from dgmbench.specs import DatasetSpec

DATA = DatasetSpec("tiny-binary", "x:y", (1, 4, 4), levels=2)
SMALL = {"latent": 3, "hidden": [[16]]}


def built(name):
    spec = load_registry().model_for(name)
    return spec, build_model(spec, DATA, {**spec.defaults, **SMALL})


@pytest.mark.parametrize("name,k", [("vae", 1), ("iwae", 5)])
def test_train_step_hands_the_bound_k_weights_and_its_own_estimator(name, k):
    spec, model = built(name)
    assert spec.defaults["k"] == k and model.k == k
    seen = []
    real = model.log_importance_weights

    def spy(x, k):
        log_w = real(x, k)
        seen.append((k, log_w.detach().clone()))
        return log_w
    model.log_importance_weights = spy
    x = torch.bernoulli(torch.full((8, 1, 4, 4), 0.4), generator=torch.Generator().manual_seed(0))
    (opt,) = model.configure_optimizers(1e-3)
    logs = model.train_step(x, None, [opt], 0, None)
    ((k_used, log_w),) = seen
    assert k_used == k and log_w.shape == (k, 8)
    if name == "iwae":
        expected = -(torch.logsumexp(log_w, 0) - math.log(k)).mean()
    else:
        expected = -log_w.mean(0).mean()
    torch.testing.assert_close(logs["loss"], expected, rtol=1e-6, atol=0)


def test_iwae_estimator_differs_from_the_vae_one_at_k_5():
    """The check above can fail: at k = 5 the two estimators of the same weights differ."""
    log_w = torch.tensor([[0.0, -3.0], [-1.0, 2.0], [0.5, 0.0], [-2.0, 1.0], [1.0, -1.0]])
    assert float((torch.logsumexp(log_w, 0) - math.log(5)).mean()) > float(log_w.mean())
