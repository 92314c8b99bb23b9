"""CGAN (Mirza & Osindero 2014): G and D both see the label c as a one-hot vector (appended to z;
broadcast as constant input channels of D).

    L_D = -E log D(x, c) - E log(1 - D(G(z, c), c))
    L_G = -E log D(G(z, c), c)

Fakes get class-balanced random labels; ``sample(n)`` too; ``sample_conditional(labels)`` draws
one example per given label.
"""
import torch

from ..base import GAN, balanced_labels, one_hot


class ConditionalMixin:
    """Class-conditional sampling for the models whose G takes a class one-hot."""

    labels_are_classes = True

    def check_labels(self):
        if self.num_classes < 2:
            raise ValueError(f"{type(self).__name__} needs a labeled dataset (num_classes >= 2)")
        self.num_labels = self.num_classes

    def draw(self, n, y=None, labels=None):
        labels = balanced_labels(n, self.num_classes, self.d_updates.device) if labels is None else labels
        h = one_hot(labels, self.num_classes)
        return {"z": torch.randn(n, self.z_dim, device=h.device), "g_cond": h, "target": labels.long(),
                **self.d_condition(h)}

    def d_condition(self, h):
        return {}

    @torch.no_grad()
    def sample_conditional(self, labels: torch.Tensor) -> torch.Tensor:
        return self.to_data(self.generate(self.draw(len(labels), labels=labels.to(self.d_updates.device))))


class CGAN(ConditionalMixin, GAN):
    adversarial = "ns"

    def __init__(self, dataset, config):
        self.num_classes = int(dataset.num_classes or 0)
        self.check_labels()
        super().__init__(dataset, config)

    def g_extra(self):
        return self.num_classes

    def d_extra(self):
        return self.num_classes

    def d_condition(self, h):
        return {"d_cond": h}

    def real_condition(self, y):
        return one_hot(y, self.num_classes)
