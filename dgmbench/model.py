"""The model base class every plugin's model derives from.

Conventions (they make every metric comparable across plugins):

* Inputs ``x`` are float tensors in [0, 1] of the dataset's shape (real-valued for ``toy2d``).
* ``likelihood = "continuous"``: the model is a density on [0, 1]^D. The harness feeds it
  *dequantized* data ``y = (x * (L - 1) + u) / L`` with ``u ~ U[0, 1)^D`` (L = the dataset's
  levels), and ``log_prob(y)`` is a density there; bits/dim then adds ``D log L``
  (Theis et al. 2016: the dequantized bound on the discrete log-likelihood).
  For real-valued data (levels None) no dequantization happens.
* ``likelihood = "discrete"``: the model gives a probability mass to the exact levels
  (PixelCNN's 256-way softmax, a Bernoulli decoder on binarized data); inputs are not dequantized.
* ``likelihood = "none"``: no density (GANs, classifiers).

Class-conditional sampling is its own capability, ``sample_conditional(labels)``: one example
per entry of a LongTensor of labels in ``range(model.num_labels)``. ``model.labels_are_classes``
says whether those labels are the dataset's classes (CGAN, AC-GAN: True) or unsupervised codes
(InfoGAN's categorical code: False; metrics such as ``conditional_accuracy`` then match codes to
classes first). ``sample(n)`` of a conditional model draws class-balanced labels itself.

A capability is declared by overriding its method; :meth:`Model.capabilities` reads them off.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

_CAPABILITY_METHODS = {
    "log_prob": "log_prob",
    "elbo": "elbo",
    "iw_bound": "log_importance_weights",
    "sample": "sample",
    "sample_conditional": "sample_conditional",
    "encode": "encode",
    "classify": "classify",
    "invert": "invert",
}


class Model(nn.Module):
    """Base class. Override the capability methods your model has, and optionally the training
    step. ``config`` is the run's resolved model config (JSON-serializable)."""

    likelihood: str = "continuous"

    def __init__(self, config: dict | None = None):
        super().__init__()
        self.config = dict(config or {})

    # -- capabilities ---------------------------------------------------------------------------
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) per example, shape (batch,), in nats."""
        raise NotImplementedError

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """A lower bound on log p(x) per example, shape (batch,), in nats."""
        raise NotImplementedError

    def log_importance_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i | x) for z_i ~ q(z | x), shape (k, batch).

        logmeanexp over the first axis is the k-sample importance-weighted bound
        (Burda et al. 2016), which rises to log p(x) as k grows."""
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        """n new examples in data space ([0, 1] for images), shape (n, *dataset_shape)."""
        raise NotImplementedError

    #: with ``sample_conditional``: how many values a label takes, and whether they are classes
    num_labels: int = 0
    labels_are_classes: bool = True

    def sample_conditional(self, labels: torch.Tensor) -> torch.Tensor:
        """One new example per label (``labels``: LongTensor (n,) in ``range(num_labels)``),
        shape (n, *dataset_shape), in data space like :meth:`sample`."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        """Posterior means E_q[z | x], one (batch, dim) tensor per stochastic layer."""
        raise NotImplementedError

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (batch, num_classes)."""
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """With ``invert``: the representation an invertible network computes from x (for a
        classifier, everything before its non-invertible head)."""
        raise NotImplementedError

    def invert(self, z: torch.Tensor) -> torch.Tensor:
        """The ``invert`` capability: the x with ``features(x) == z``, so that
        ``invert(features(x))`` reconstructs the input (metric ``reconstruction_error``)."""
        raise NotImplementedError

    @classmethod
    def capabilities(cls) -> set[str]:
        """The capabilities this class implements (methods overridden from :class:`Model`)."""
        return {cap for cap, meth in _CAPABILITY_METHODS.items()
                if getattr(cls, meth) is not getattr(Model, meth)}

    # -- training ---------------------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar training loss. Default: negative log-likelihood (or negative ELBO)."""
        caps = self.capabilities()
        if "log_prob" in caps:
            return -self.log_prob(x).mean()
        if "elbo" in caps:
            return -self.elbo(x).mean()
        raise NotImplementedError(f"{type(self).__name__} must define loss() or train_step()")

    def fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict | None:
        """Optional: fit the model in one call on the whole training split, as a scikit-learn
        estimator does (closed-form or one-pass models: a Gaussian's mean and covariance,
        probabilistic PCA). ``x`` is every training example as the model sees it (dequantized for
        continuous densities), on the run's device. A model that defines ``fit`` is not trained
        by steps; it may return logs ``{name: float}``."""
        raise NotImplementedError

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """The optimizers :meth:`train_step` uses. Default: one Adam over all parameters, or none
        for a model without trainable parameters (the harness then takes no training steps)."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [torch.optim.Adam(params, lr=lr)] if params else []

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None, optimizers: list,
                   step: int, autocast: Any) -> dict[str, torch.Tensor]:
        """One optimization step; returns logs (scalar tensors). ``autocast`` is a context
        manager factory (bf16 on CUDA, a no-op on CPU) to wrap the forward pass in.

        Override for several optimizers (GANs) or a custom backward pass (RevNet). The harness
        stops the run if any returned value is NaN or infinite."""
        (opt,) = optimizers
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = self.loss(x, y)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}


def model_input_for(model, dataset, x: torch.Tensor, generator=None) -> torch.Tensor:
    """What the model sees of data ``x`` in [0, 1]: dequantized data y = (x (L - 1) + u) / L for a
    continuous density (``likelihood = "continuous"``, L = ``dataset.levels``), the levels otherwise.
    The training loop and the metrics both feed models through this."""
    if getattr(model, "likelihood", "none") == "continuous":
        from .data import dequantize

        return dequantize(x, dataset.levels, generator)
    return x
