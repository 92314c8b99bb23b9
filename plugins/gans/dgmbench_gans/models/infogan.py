"""InfoGAN (Chen et al. 2016): G(z, c) with a categorical code c_cat (``n_cat`` values, uniform)
and continuous codes c_cont ~ U[-1, 1]^``n_cont``; a head Q(c | x) on D's last hidden layer
infers them, and both players maximize the variational lower bound on I(c; G(z, c)):

    L_I = E_{c, x = G(z, c)} log Q(c | x) + H(c)  <=  I(c; G(z, c))  <=  H(c)
    L_{D,Q} = L_D^GAN - lambda L_I,   L_G = L_G^GAN - lambda L_I

Q_cat is a softmax (L_I's categorical part = H(c_cat) - cross-entropy, logged as ``mi_cat``);
Q_cont a unit-variance Gaussian, so its part is -||c_cont - mu(x)||^2 / 2 up to a constant.
lambda = 1 (categorical), 0.1 (continuous). ``encode(x)`` returns [mu(x)], the inferred continuous
codes (for disentanglement metrics); ``sample_conditional(labels)`` sets c_cat = labels (codes,
not classes: conditional_accuracy matches codes to classes first).

Config: ``n_cat`` (default: the dataset's classes, else 10), ``n_cont`` (2), ``lambda_cat``,
``lambda_cont``.
"""
import torch
import torch.nn.functional as F

from .. import losses
from ..base import GAN, balanced_labels, default_config, one_hot

DEFAULTS = {"n_cont": 2, "lambda_cat": 1.0, "lambda_cont": 0.1}


class InfoGAN(GAN):
    adversarial = "ns"
    labels_are_classes = False

    @classmethod
    def build(cls, dataset, config):
        cfg = {**DEFAULTS, "n_cat": int(dataset.num_classes or 10), **dict(config)}
        return cls(dataset, default_config(dataset, cfg))

    def __init__(self, dataset, config):
        self.n_cat, self.n_cont = int(config["n_cat"]), int(config["n_cont"])
        self.num_labels = self.n_cat
        self.d_outputs = 1 + self.n_cat + self.n_cont
        super().__init__(dataset, config)

    def g_extra(self):
        return self.n_cat + self.n_cont

    def draw(self, n, y=None, labels=None):
        dev = self.d_updates.device
        cat = balanced_labels(n, self.n_cat, dev) if labels is None else labels.long()
        cont = torch.rand(n, self.n_cont, device=dev) * 2 - 1
        return {"z": torch.randn(n, self.z_dim, device=dev), "g_cond": torch.cat([one_hot(cat, self.n_cat), cont], 1),
                "target": cat, "cont": cont}

    def info_terms(self, out_fake, draw) -> dict:
        q_cat, q_cont = out_fake[:, 1:1 + self.n_cat], out_fake[:, 1 + self.n_cat:]
        c = self.config
        terms = {"info_cat": float(c["lambda_cat"]) * F.cross_entropy(q_cat, draw["target"])}
        if self.n_cont:
            terms["info_cont"] = float(c["lambda_cont"]) * 0.5 * ((q_cont - draw["cont"]) ** 2).sum(1).mean()
        return terms

    def extra_d_loss(self, x, fake, out_real, out_fake, y, draw):
        return self.info_terms(out_fake, draw)

    def extra_g_loss(self, fake, out_fake, draw):
        return self.info_terms(out_fake, draw)

    @torch.no_grad()
    def mi_lower_bound(self, n: int = 512) -> float:
        """The categorical part of L_I on n fresh draws: H(c_cat) - E[-log Q(c_cat | G(z, c))]."""
        draw = self.draw(n)
        q = self.D(self.generate(draw)).float()[:, 1:1 + self.n_cat]
        return losses.categorical_entropy(self.n_cat) - float(F.cross_entropy(q, draw["target"]))

    @torch.no_grad()
    def sample_conditional(self, labels: torch.Tensor) -> torch.Tensor:
        return self.to_data(self.generate(self.draw(len(labels), labels=labels.to(self.d_updates.device))))

    @torch.no_grad()
    def encode(self, x: torch.Tensor):
        out = self.D(self.to_model(x)).float()
        return [out[:, 1 + self.n_cat:]]
