"""Plugin ``gans``: the GAN family on one DCGAN backbone (:mod:`dgmbench_gans.backbone`), and the
``gan-losses`` and ``gan-modes`` protocols. Light: no torch import at module level."""
from dgmbench import ConfigKey, ModelSpec, hookimpl

from .protocols import protocols

#: (name, class, paper, description, learning rate of the paper's optimizer)
MODELS = [
    ("gan", "gan:MinimaxGAN", "Goodfellow et al. 2014, Generative Adversarial Nets",
     "GAN with the original minimax (saturating) generator loss", 2e-4),
    ("nsgan", "nsgan:NSGAN", "Goodfellow et al. 2014, Generative Adversarial Nets (Sec. 3)",
     "GAN with the non-saturating generator loss -log D(G(z))", 2e-4),
    ("lsgan", "lsgan:LSGAN", "Mao et al. 2017, Least Squares Generative Adversarial Networks",
     "least-squares GAN (targets 0 / 1)", 2e-4),
    ("wgan", "wgan:WGAN", "Arjovsky, Chintala & Bottou 2017, Wasserstein GAN",
     "Wasserstein GAN: weight clipping c = 0.01, RMSProp 5e-5, n_critic = 5", 5e-5),
    ("wgan-gp", "wgan_gp:WGANGP", "Gulrajani et al. 2017, Improved Training of Wasserstein GANs",
     "Wasserstein GAN with gradient penalty: lambda = 10, n_critic = 5, Adam 1e-4 (0, 0.9)", 1e-4),
    ("dragan", "dragan:DRAGAN", "Kodali et al. 2017, On Convergence and Stability of GANs",
     "GAN with a gradient penalty around the data (lambda = 10)", 2e-4),
    ("began", "began:BEGAN", "Berthelot, Schumm & Metz 2017, BEGAN: Boundary Equilibrium GANs",
     "auto-encoder D with L1 loss and the equilibrium controller k_t (gamma, lambda_k)", 1e-4),
    ("ebgan", "ebgan:EBGAN", "Zhao, Mathieu & LeCun 2017, Energy-based Generative Adversarial Network",
     "auto-encoder D as an energy, hinge margin m, pulling-away term", 2e-4),
    ("cgan", "cgan:CGAN", "Mirza & Osindero 2014, Conditional Generative Adversarial Nets",
     "class-conditional GAN: the label one-hot into G and D", 2e-4),
    ("acgan", "acgan:ACGAN", "Odena, Olah & Shlens 2017, Conditional Image Synthesis with Auxiliary Classifier GANs",
     "class-conditional G, D with an auxiliary classifier head", 2e-4),
    ("infogan", "infogan:InfoGAN", "Chen et al. 2016, InfoGAN",
     "GAN with categorical + continuous codes and a Q head maximizing a lower bound on I(c; G(z, c))", 2e-4),
]
CONDITIONAL = {"cgan", "acgan", "infogan"}

POSITIVE, COUNT, WEIGHT = ConfigKey(int, min=1), ConfigKey(int, min=0), ConfigKey(float, min=0.0)
BETA = ConfigKey(float, min=0.0, below=1.0)  # Adam's moment decay: [0, 1)
#: the config keys every GAN reads (dgmbench_gans.base) and each model's own, with their allowed values
CONFIG = {"z_dim": POSITIVE, "width": POSITIVE, "layers": POSITIVE, "n_critic": POSITIVE,
          "optimizer": ConfigKey(str, choices=("adam", "rmsprop")), "beta1": BETA, "beta2": BETA,
          "spectral_norm": bool, "minibatch_features": COUNT, "vbn": bool, "feature_matching": bool,
          "historical_averaging": WEIGHT, "label_smoothing": ConfigKey(float, above=0.0, max=1.0),
          "batch_norm": bool}
OWN = {"wgan": {"clip": ConfigKey(float, above=0.0)}, "wgan-gp": {"gp_lambda": WEIGHT},
       "dragan": {"gp_lambda": WEIGHT},
       "ebgan": {"margin": WEIGHT, "pt_weight": WEIGHT, "code_dim": POSITIVE},
       "began": {"gamma": ConfigKey(float, min=0.0, max=1.0), "lambda_k": WEIGHT, "code_dim": POSITIVE},
       "infogan": {"n_cat": COUNT, "n_cont": COUNT, "lambda_cat": WEIGHT, "lambda_cont": WEIGHT}}


def sample_metric() -> dict:
    """The spec's default metrics, where this dgmbench's ModelSpec takes them."""
    if "metrics" not in ModelSpec.__dataclass_fields__:
        return {}
    return {"metrics": "dgmbench_gans.plugin:default_metrics"}


def declared(name: str) -> dict:
    """The spec's config declaration, where this dgmbench's ModelSpec takes one."""
    if "config" not in ModelSpec.__dataclass_fields__:
        return {}
    return {"config": {**CONFIG, **OWN.get(name, {})}}


def default_metrics(dataset) -> list[str]:
    """A GAN run's sample metric when neither --metric nor a protocol names one: mode coverage
    where the modes are known (the 2-D mixtures, Stacked MNIST), else FID for images (through
    clean-fid's Inception; offline, where its weights are missing, ``--feature-net domain``)."""
    if dataset.name.startswith("toy2d-") or dataset.name == "stacked-mnist":
        return ["mode_coverage"]
    return ["fid"] if len(dataset.shape) == 3 else []


def capabilities(name: str) -> list[str]:
    caps = ["sample"]
    if name in CONDITIONAL:
        caps.append("sample_conditional")
    if name == "infogan":
        caps.append("encode")
    return caps


@hookimpl
def dgmbench_models():
    return [ModelSpec(name, f"dgmbench_gans.models.{target}.build", capabilities=capabilities(name),
                      description=description, paper=paper,
                      budgets={b: {"lr": lr} for b in ("smoke", "cpu", "gpu", "quick", "full")}, **declared(name),
                      **sample_metric())
            for name, target, paper, description, lr in MODELS]


@hookimpl
def dgmbench_protocols():
    return protocols()
