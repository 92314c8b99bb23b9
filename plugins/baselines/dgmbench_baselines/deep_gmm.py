"""Deep Gaussian mixture model (van den Oord & Schrauwen 2014, "Factoring Variations in Natural
Images with Deep Gaussian Mixture Models").

A GMM is one standard Gaussian pushed through one of K linear maps. A Deep GMM stacks such
choices: layer l has N_l nodes, each a linear map x -> A_{l,k} x + b_{l,k}; a *path* p = (k_1, .., k_L)
through the network is the Gaussian

    x = A_{1,k_1}(A_{2,k_2}( ... (A_{L,k_L} z + b_{L,k_L}) ... ) + b_{2,k_2}) + b_{1,k_1},   z ~ N(0, I),

and p(x) = sum_p pi_p N(x; mu_p, M_p M_p^T), M_p = A_{1,k_1} ... A_{L,k_L}: a mixture of prod_l N_l
Gaussians whose covariance factors are shared along the paths (the "factoring" of variations).
``nodes`` = [N_1, ..., N_L] from the data side; pi_p is one free weight per path.

Evaluation (exact, per example): walking the network from the data, every partial path keeps
u = A^{-1}(u_prev - b), so each node's inverse is applied once per path prefix (the paper's
shared computation), and

    log p(x) = logsumexp_p [ log pi_p + log N(u_p; 0, I) - sum_l log |det A_{l,k_l}| ].

Each node stores W = A^{-1} as a lower-triangular matrix with a positive (exp) diagonal: its
log-determinant is the sum of the diagonal's logs and the density needs no solve; sampling solves
the triangular systems. (The paper keeps full matrices; every path's covariance is still an
arbitrary positive-definite matrix here, the sharing across paths differs.)

Training: the paper fits by a hard-EM algorithm; here the same exact log-likelihood is maximized
by the harness's gradient steps (``likelihood = "continuous"``: a density on the dequantized data
in [0, 1]^D). Configurations: ``nodes`` (default [8, 4, 2]: the paper's results on whole
CIFAR-10 images state no architecture; these are ours), ``init_scale`` (the first layer's initial
standard deviation, 0.25 for data in [0, 1])."""
from __future__ import annotations

import math

import torch
from torch import nn

from dgmbench.model import Model


class DeepGMM(Model):
    likelihood = "continuous"

    def __init__(self, shape, config=None):
        super().__init__({"nodes": [8, 4, 2], "init_scale": 0.25, **(config or {})})
        self.shape = tuple(shape)
        nodes = [int(n) for n in self.config["nodes"]]
        if not nodes or min(nodes) < 1:
            raise ValueError(f"deep-gmm: nodes must be a non-empty list of positive counts, not {nodes}")
        D, self.nodes = math.prod(self.shape), nodes
        scale = float(self.config["init_scale"])
        g = torch.Generator().manual_seed(0)
        self.off = nn.ParameterList([nn.Parameter(torch.zeros(n, D, D)) for n in nodes])
        self.log_diag = nn.ParameterList([nn.Parameter(torch.full((n, D), -math.log(scale) if l == 0 else 0.0))
                                          for l, n in enumerate(nodes)])
        self.bias = nn.ParameterList([nn.Parameter((0.5 if l == 0 else 0.0) + 0.1 * torch.randn(n, D, generator=g))
                                      for l, n in enumerate(nodes)])
        self.path_logits = nn.Parameter(torch.zeros(math.prod(nodes)))

    @classmethod
    def build(cls, dataset, config):
        return cls(dataset.shape, config)

    def precision_factor(self, layer: int) -> torch.Tensor:
        """W_{l,k} = A_{l,k}^{-1}, (N_l, D, D) lower-triangular with diagonal exp(log_diag)."""
        return torch.tril(self.off[layer], -1) + torch.diag_embed(self.log_diag[layer].exp())

    def log_prob(self, x):
        # in fp32 even under the harness's bf16 autocast: sums of squares over D dimensions and the
        # log-determinants need the precision
        with torch.autocast(x.device.type, enabled=False):
            return self._log_prob(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)

    def _log_prob(self, x):
        B = len(x)
        u = x.reshape(B, 1, -1)                      # (B, paths so far, D)
        log_det = x.new_zeros(1)                      # log |det W| along each path prefix
        for layer, n in enumerate(self.nodes):
            W = self.precision_factor(layer).to(x.dtype)
            centred = u[:, :, None, :] - self.bias[layer].to(x.dtype)[None, None]      # (B, P, N, D)
            u = torch.einsum("kde,bpke->bpkd", W, centred).reshape(B, -1, u.shape[-1])
            log_det = (log_det[:, None] + self.log_diag[layer].sum(1).to(x.dtype)[None]).reshape(-1)
        log_normal = -0.5 * (u ** 2).sum(-1) - 0.5 * u.shape[-1] * math.log(2 * math.pi)
        return torch.logsumexp(torch.log_softmax(self.path_logits, 0).to(x.dtype) + log_det + log_normal, dim=1)

    @torch.no_grad()
    def sample(self, n: int, clip: bool = True) -> torch.Tensor:
        """A path p ~ pi, z ~ N(0, I), then x = A z + b layer by layer from the deepest (triangular
        solves with W = A^{-1}); clipped to the data range [0, 1] unless ``clip`` is false."""
        ref = self.path_logits
        paths = torch.distributions.Categorical(logits=ref.detach()).sample((n,))
        choice, rest = [], paths
        for count in reversed(self.nodes):           # path index = ((k_1 N_2 + k_2) N_3 + k_3) ...
            choice.append(rest % count)
            rest = rest // count
        choice = choice[::-1]
        x = torch.randn(n, math.prod(self.shape), 1, device=ref.device, dtype=ref.dtype)
        for layer in reversed(range(len(self.nodes))):
            W = self.precision_factor(layer)[choice[layer]]
            x = torch.linalg.solve_triangular(W, x, upper=False) + self.bias[layer][choice[layer]][..., None]
        x = x.view(n, *self.shape)
        return x.clamp(0, 1) if clip else x
