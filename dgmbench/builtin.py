"""The core's own plugin: the standard datasets, the core metrics and the table protocols.

It goes through the same hooks as every other plugin; nothing here imports torch.
"""
from __future__ import annotations

from . import hookimpl
from .protocols import builtin_protocols
from .specs import DatasetSpec, FeatureNetworkSpec, MetricSpec

_LOAD = "dgmbench.datasets:"
_DIS = "dgmbench.metrics.disentanglement:"


#: Omniglot's images: the full background set, or one of the small subsets (see load_omniglot)
_OMNIGLOT = {s: [("omniglot-py/images_background", "omniglot-py/images_background_small1",
                  "omniglot-py/images_background_small2")] for s in ("train", "test")}


def _idx_files(folder: str) -> dict:
    """The four unpacked IDX files torchvision's MNIST-like datasets read (it checks all four for
    either split)."""
    names = [f"{folder}/raw/{p}-{k}-idx{d}-ubyte" for p in ("train", "t10k") for k, d in (("images", 3), ("labels", 1))]
    return {"train": names, "test": names}


@hookimpl
def dgmbench_datasets():
    mnist = dict(shape=(1, 28, 28), num_classes=10, needs_data_root=True, files=_idx_files("MNIST"))
    specs = [
        DatasetSpec("digits", _LOAD + "load_digits", (1, 8, 8), levels=17, num_classes=10,
                    description="scikit-learn's 8x8 handwritten digits, embedded (1,438 train / 359 test)"),
        DatasetSpec("mnist", _LOAD + "load_mnist", levels=256, description="MNIST, 8-bit grey", **mnist),
        DatasetSpec("mnist-binary", _LOAD + "load_mnist", levels=2, **mnist,
                    options={"binarize": "dynamic", "name": "mnist-binary"},
                    description="MNIST, dynamically binarized (a fresh Bernoulli draw every batch)"),
        DatasetSpec("mnist-binary-static", _LOAD + "load_mnist", levels=2, **mnist,
                    options={"binarize": "static", "name": "mnist-binary-static"},
                    description="MNIST, statically binarized (one fixed, seeded Bernoulli draw)"),
        DatasetSpec("fashion-mnist", _LOAD + "load_mnist", levels=256, **{**mnist, "files": _idx_files("FashionMNIST")},
                    options={"cls_name": "FashionMNIST", "name": "fashion-mnist"},
                    description="Fashion-MNIST, 8-bit grey"),
        DatasetSpec("omniglot", _LOAD + "load_omniglot", (1, 28, 28), levels=256, needs_data_root=True,
                    files=_OMNIGLOT, description="Omniglot resized to 28x28, grey (labels: alphabets)"),
        DatasetSpec("omniglot-binary", _LOAD + "load_omniglot", (1, 28, 28), levels=2, needs_data_root=True,
                    options={"binarize": "dynamic"}, files=_OMNIGLOT,
                    description="Omniglot 28x28, dynamically binarized (the IWAE setting)"),
        DatasetSpec("cifar10", _LOAD + "load_cifar", (3, 32, 32), levels=256, num_classes=10, needs_data_root=True,
                    description="CIFAR-10, 8-bit RGB", files={
                        "train": [tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))],
                        "test": ["cifar-10-batches-py/test_batch"]}),
        DatasetSpec("cifar100", _LOAD + "load_cifar", (3, 32, 32), levels=256, num_classes=100,
                    needs_data_root=True, options={"cls_name": "CIFAR100", "name": "cifar100"},
                    files={"train": ["cifar-100-python/train"], "test": ["cifar-100-python/test"]},
                    description="CIFAR-100, 8-bit RGB"),
        DatasetSpec("svhn", _LOAD + "load_svhn", (3, 32, 32), levels=256, num_classes=10, needs_data_root=True,
                    files={"train": ["train_32x32.mat"], "test": ["test_32x32.mat"]},
                    description="SVHN cropped digits, 8-bit RGB"),
        DatasetSpec("celeba", _LOAD + "load_celeba", (3, 64, 64), levels=256, needs_data_root=True,
                    files={s: ["celeba/img_align_celeba", "celeba/list_eval_partition.txt"] for s in ("train", "test")},
                    description="CelebA, centre-cropped and resized to 64x64"),
        DatasetSpec("dsprites", "dgmbench.dsprites:load_dsprites", (1, 64, 64), levels=2,
                    factors=[("shape", 3), ("scale", 6), ("orientation", 40), ("position_x", 32), ("position_y", 32)],
                    description="dSprites: 737,280 64x64 binary sprites from 5 ground-truth factors, embedded "
                                "(rendered lazily; reads the original .npz when under the data root)"),
    ]
    for kind, modes in (("ring8", 8), ("grid25", 25)):  # labeled by mode, for mode coverage
        specs.append(DatasetSpec(f"toy2d-{kind}", _LOAD + "load_toy2d", (2,), levels=None, num_classes=modes,
                                 options={"kind": kind},
                                 description=f"2-D mixture of {modes} Gaussians ({'ring' if modes == 8 else 'grid'}"
                                             "), labeled by mode, for mode coverage"))
    specs.append(DatasetSpec("stacked-mnist", _LOAD + "load_stacked_mnist", (3, 28, 28), levels=256,
                             num_classes=1000, needs_data_root=True, files=_idx_files("MNIST"),
                             description="three MNIST digits as RGB channels: 1,000 modes (label 100 R + 10 G + B)"))
    for kind in ("moons", "8gaussians", "checkerboard"):
        specs.append(DatasetSpec(f"toy2d-{kind}", _LOAD + "load_toy2d", (2,), levels=None,
                                 options={"kind": kind}, description=f"2-D toy density: {kind}"))
    specs.append(DatasetSpec("toy2d", _LOAD + "load_toy2d", (2,), levels=None, options={"kind": "moons"},
                             description="2-D toy density (moons; see toy2d-*)"))
    return specs


@hookimpl
def dgmbench_metrics():
    return [
        MetricSpec("nll", "dgmbench.metrics.likelihood:nll", requires=[["log_prob"], ["iw_bound"], ["elbo"]],
                   description="test NLL (nats/example) and bits/dim, dequantization included; exact, "
                               "importance-sampled (k = nll_k) or the ELBO bound"),
        # -- latent-variable metrics --
        MetricSpec("active_units", "dgmbench.metrics.latent:active_units", requires=[["encode"]],
                   lower_is_better=False,
                   description="units with Cov_x(E_q[u|x]) > 0.01 on the test set, per stochastic layer "
                               "(Burda et al. 2016)"),
        MetricSpec("elbo_surgery", "dgmbench.metrics.latent:elbo_surgery", requires=[["encode", "iw_bound"]],
                   description="avg KL(q(z|x)||p(z)) = KL(q(z)||p(z)) + I[n,z] over the test set (Hoffman & "
                               "Johnson 2016); needs the model methods posterior(x) and prior()"),
        # -- disentanglement metrics: need a dataset with a factor sampler (dsprites) --
        MetricSpec("betavae_score", _DIS + "betavae_metric", requires=[["encode"]], lower_is_better=False,
                   description="beta-VAE metric (Higgins et al. 2017): logistic-regression accuracy on z_diff; "
                               "options betavae_batch (64), betavae_train (10000), betavae_eval (5000)"),
        MetricSpec("factorvae_score", _DIS + "factorvae_metric", requires=[["encode"]], lower_is_better=False,
                   description="FactorVAE metric (Kim & Mnih 2018): majority vote on argmin normalized variance; "
                               "options factorvae_batch (64), factorvae_train (10000), factorvae_eval (5000), "
                               "factorvae_variance_points (10000)"),
        MetricSpec("mig", _DIS + "mig_metric", requires=[["encode"]], lower_is_better=False,
                   description="mutual information gap (Chen et al. 2018); options mig_points (10000), mig_bins (20)"),
        MetricSpec("sap", _DIS + "sap_metric", requires=[["encode"]], lower_is_better=False,
                   description="SAP score (Kumar et al. 2018) as disentanglement_lib: per-dimension LinearSVC(C=0.01, "
                               "balanced) accuracy, or R^2 with sap_continuous=1; options sap_train (10000), "
                               "sap_eval (5000), sap_continuous (0)"),
        # -- sample-quality metrics --
        MetricSpec("fid", "dgmbench.metrics.sample_quality:fid", requires=[["sample"]], feature_net=True,
                   description="Frechet distance of sample_metric_n samples' features to the reference split's "
                               "(feature_net: inception | domain)"),
        MetricSpec("kid", "dgmbench.metrics.sample_quality:kid", requires=[["sample"]], feature_net=True,
                   description="kernel inception distance: unbiased MMD^2, cubic polynomial kernel (mean, std)"),
        MetricSpec("inception_score", "dgmbench.metrics.sample_quality:inception_score", requires=[["sample"]],
                   feature_net=True,
                   lower_is_better=False, description="Inception Score exp E KL(p(y|x) || p(y)) (is, is_std)"),
        MetricSpec("precision_recall", "dgmbench.metrics.sample_quality:precision_recall", requires=[["sample"]],
                   feature_net=True,
                   lower_is_better=False, description="k-NN precision and recall (Kynkaanniemi et al. 2019, k = 3)"),
        # -- mode coverage and conditional sampling --
        MetricSpec("mode_coverage", "dgmbench.metrics.modes:mode_coverage", requires=[["sample"]],
                   lower_is_better=False,
                   description="modes covered, KL of the mode histogram to uniform, share of high-quality samples "
                               "(2-D mixtures; Stacked MNIST through a digit classifier per channel)"),
        MetricSpec("conditional_accuracy", "dgmbench.metrics.modes:conditional_accuracy",
                   requires=[["sample_conditional"]], lower_is_better=False,
                   description="share of samples for a given label that a classifier of the data reads as that "
                               "label (codes matched to classes first for InfoGAN)"),
        # -- classifier and invertible-network metrics --
        MetricSpec("accuracy", "dgmbench.metrics.classification:accuracy", requires=[["classify"]],
                   description="top-1 and top-5 test error in percent"),
        MetricSpec("train_memory", "dgmbench.metrics.training_cost:train_memory",
                   description="one training step at memory_batch (128): peak bytes saved for backward "
                               "(saved_tensors_hooks, any device) and CUDA max_memory_allocated, in MiB"),
        MetricSpec("throughput", "dgmbench.metrics.training_cost:throughput", lower_is_better=False,
                   description="training images/s at memory_batch over throughput_steps (3) steps"),
        MetricSpec("parameters", "dgmbench.metrics.training_cost:parameters",
                   description="number of trainable parameters"),
        MetricSpec("reconstruction_error", "dgmbench.metrics.invertibility:reconstruction_error",
                   requires=[["invert"]], description="max |x - invert(features(x))| over the test set"),
    ]


@hookimpl
def dgmbench_feature_networks():
    return [
        FeatureNetworkSpec("inception", "dgmbench.features.inception:build",
                           "clean-fid Inception-V3 (2048-d pool3, 8-bit quantization + clean bicubic resize to 299)",
                           check="dgmbench.features.inception:weights_path"),
        FeatureNetworkSpec("domain", "dgmbench.features.domain:build",
                           "a small CNN classifier trained once per dataset on its labels (256-d penultimate layer)"),
    ]


@hookimpl
def dgmbench_protocols():
    return builtin_protocols()
