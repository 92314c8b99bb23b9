"""Plugin ``disentangle``: models ``betavae``, ``factorvae``, ``oracle``; metrics ``reconstruction``
and ``gaussian_marginals``; protocols ``disentanglement`` and ``identifiability``; and a latent
traversal grid (``traversals.png``) for every finished run of a model with ``encode`` and
``decode``, whichever plugin it comes from. Light: no torch import at module level."""
from __future__ import annotations

from dgmbench import Cell, MetricSpec, ModelSpec, ProtocolSpec, hookimpl

PAPERS = {
    "betavae": "Higgins et al. 2017, beta-VAE (ICLR); Burgess et al. 2018, Understanding disentangling in beta-VAE",
    "factorvae": "Kim & Mnih 2018, Disentangling by Factorising (ICML)",
    "oracle": "Locatello et al. 2019, Challenging Common Assumptions in the Unsupervised Learning of "
              "Disentangled Representations (ICML), Theorem 1",
}
#: disentanglement_lib trains 300,000 steps of batch 64 with Adam lr 1e-4 (Locatello et al. 2019)
BUDGETS = {"quick": {"batch_size": 64, "lr": 1e-4, "epochs": 1, "max_steps": 3000},
           "full": {"batch_size": 64, "lr": 1e-4, "epochs": 100, "max_steps": 300_000}}
VAE_CAPS = ["elbo", "sample", "encode"]


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("betavae", "dgmbench_disentangle.models:BetaVAE.build", VAE_CAPS, paper=PAPERS["betavae"],
                  description="beta-VAE (beta; capacity control gamma |KL - C| with capacity_max), "
                              "Locatello et al.'s conv networks on 64x64 (MLP otherwise)",
                  defaults={"beta": 4.0, "latent": 10}, budgets=BUDGETS),
        ModelSpec("factorvae", "dgmbench_disentangle.models:FactorVAE.build", VAE_CAPS, paper=PAPERS["factorvae"],
                  description="FactorVAE: ELBO + gamma TC, TC by a discriminator on permuted codes",
                  defaults={"gamma": 10.0, "latent": 10}, budgets=BUDGETS),
        ModelSpec("oracle", "dgmbench_disentangle.oracle:Oracle.build", ["encode"], paper=PAPERS["oracle"],
                  description="the true factors, each jittered to U(0, 1) (rotate=true: through f(z) = "
                              "Phi(A Phi^-1(z)), A orthogonal with no zero entry); dsprites",
                  defaults={"rotate": False}),
    ]


@hookimpl
def dgmbench_metrics():
    return [
        MetricSpec("reconstruction", "dgmbench_disentangle.metrics:reconstruction", requires=[["encode"]],
                   description="recon = -E_q log p(x|z) and kl = KL(q(z|x)||p(z)) on the test split (this "
                               "plugin's VAEs)"),
        MetricSpec("code_marginals", "dgmbench_disentangle.metrics:code_marginals", requires=[["encode"]],
                   lower_is_better=False,
                   description="KS test of each code dimension against its stated marginal (U(0,1) or N(0,1)): "
                               "ks_max, ks_pvalue_min, marginals_match (Bonferroni, 1 %); mig_points images"),
    ]


SCORES = ["betavae_score", "factorvae_score", "mig"]
#: reduced metric point counts for a CPU (the budget name shows them when given on the command line)
CPU_METRIC_OPTIONS = {"betavae_batch": 64, "betavae_train": 1000, "betavae_eval": 500, "factorvae_batch": 64,
                      "factorvae_train": 1000, "factorvae_eval": 500, "factorvae_variance_points": 5000,
                      "mig_points": 5000}

DISENTANGLEMENT_CELLS = [  # (cell, model, config, label)
    ("vae", "betavae", {"beta": 1.0}, "VAE (beta = 1)"),
    ("betavae-4", "betavae", {"beta": 4.0}, "beta-VAE, beta = 4"),
    ("betavae-16", "betavae", {"beta": 16.0}, "beta-VAE, beta = 16"),
    ("betavae-capacity", "betavae", {"capacity_max": 25.0, "gamma": 1000.0},
     "beta-VAE, capacity control (gamma = 1000, C_max = 25)"),
    ("factorvae-10", "factorvae", {"gamma": 10.0}, "FactorVAE, gamma = 10"),
    ("factorvae-40", "factorvae", {"gamma": 40.0}, "FactorVAE, gamma = 40"),
    ("infogan", "infogan", {}, "InfoGAN (the gans plugin)"),
]


@hookimpl
def dgmbench_protocols():
    return [
        ProtocolSpec(
            name="disentanglement", version="1",
            description="dSprites: VAE, beta-VAE (beta 4, 16, capacity control), FactorVAE (gamma 10, 40), "
                        "InfoGAN: beta-VAE score, FactorVAE score, MIG beside the reconstruction term",
            cells=[Cell(key, model, "dsprites", config=config, labels={"model": label})
                   for key, model, config, label in DISENTANGLEMENT_CELLS],
            metrics=[*SCORES, "reconstruction", "active_units"], values=[*SCORES, "active_units", "recon", "kl"],
            seeds=(0, 1, 2),
            budgets={"quick": {"batch_size": 64, "lr": 1e-4, "epochs": 1, "max_steps": 3000},
                     # metric point counts small enough for a CPU minute (disentanglement_lib: 10,000 / 5,000)
                     "smoke": {"metric_options": {"betavae_batch": 8, "betavae_train": 50, "betavae_eval": 50,
                                                  "factorvae_batch": 8, "factorvae_train": 50, "factorvae_eval": 50,
                                                  "factorvae_variance_points": 500, "mig_points": 500}},
                     "cpu": {"batch_size": 64, "lr": 5e-4, "epochs": 1, "max_steps": 500,
                             "metric_options": {"betavae_batch": 32, "betavae_train": 300, "betavae_eval": 200,
                                                "factorvae_batch": 32, "factorvae_train": 300, "factorvae_eval": 200,
                                                "factorvae_variance_points": 2000, "mig_points": 2000},
                             "note": "500 steps of batch 64 at lr 5e-4 (Locatello et al. 2019: 300,000 steps at "
                                     "lr 1e-4; 0.2 %), metric point counts 300 / 200"},
                     "gpu": {"batch_size": 64, "lr": 1e-4, "epochs": 1, "max_steps": 10_000,
                             "note": "10,000 steps of batch 64 at lr 1e-4 (Locatello et al. 2019: 300,000; 3.3 %), "
                                     "disentanglement_lib's metric point counts"}},
            claims="dgmbench_disentangle.claims:disentanglement",
            caption="Disentanglement on dSprites (Locatello et al.'s networks, 10 latents, Adam lr 1e-4, batch 64; "
                    "higher scores are better, recon in nats per image; active_units: latent dimensions with "
                    "Cov_x E[z | x] > 0.01 -- a cell with none has a collapsed encoder and is marked as not "
                    "trained): mean and spread over seeds, which in "
                    "Locatello et al. 2019 matter as much as the objective. Point counts of the metrics as the "
                    "budget name shows (disentanglement_lib: 10,000 / 5,000).",
        ),
        ProtocolSpec(
            name="identifiability", version="1",
            description="Locatello et al. 2019, Theorem 1: an oracle encoder (the true factors, each U(0, 1)) and "
                        "the same through f(z) = Phi(A Phi^-1(z)), A orthogonal with no zero entry: the same "
                        "marginals, very different disentanglement scores",
            cells=[Cell("oracle", "oracle", "dsprites", config={"rotate": False}, labels={"model": "oracle"}),
                   Cell("oracle-rotated", "oracle", "dsprites", config={"rotate": True},
                        labels={"model": "rotated oracle f(z)"})],
            metrics=[*SCORES, "code_marginals", "active_units"],
            values=[*SCORES, "active_units", "ks_max", "marginals_match"], seeds=(0, 1, 2),
            budgets={b: {"epochs": 1, "max_steps": 1} for b in ("smoke", "cpu", "gpu", "quick", "full")},
            claims="dgmbench_disentangle.claims:identifiability",
            caption="The claim (the seeds' proof): a representation z and f(z) = Phi(A Phi^-1(z)) (A orthogonal, "
                    "no zero entry) have the same marginal distribution, U(0, 1) per dimension (ks_max: the "
                    "largest KS distance of a dimension to U(0, 1); marginals_match: the share of seeds whose "
                    "dimensions all pass a KS test at 1 %, Bonferroni-corrected), yet they score very differently, "
                    "so nothing in the marginals tells the disentangled one apart. The oracle is not exactly 1 on "
                    "MIG: the metric's 20 equal-width bins cannot separate 32 or 40 factor values.",
        ),
    ]


# -- traversals for every run of a model that can encode and decode --------------------------------

_RUNS: dict = {}  # id(record) -> (model, out_dir)


@hookimpl
def dgmbench_run_start(record, model, out_dir):
    if "encode" in model.capabilities() and hasattr(model, "decode"):
        _RUNS[id(record)] = (model, out_dir)
    if getattr(model, "capacity_max", None) is not None and "capacity_steps" not in model.config:
        steps = (record.overrides or {}).get("max_steps") or BUDGETS.get(record.budget, {}).get("max_steps")
        if steps:  # C reaches C_max at the end of the run's step budget
            model.capacity_steps = int(steps)


@hookimpl
def dgmbench_run_end(record, results, status):
    model, out_dir = _RUNS.pop(id(record), (None, None))
    if model is None or status not in ("ok", "partial"):
        return
    from .traversal import save_traversals

    x = getattr(model, "_recon_batch", None)
    if x is None:
        x = first_test_images(record, 16)
    save_traversals(model, x, out_dir / "traversals.png")


def first_test_images(record, n: int):
    """The first n test images of the run's dataset, through its public DatasetSpec."""
    import torch

    from dgmbench.plugins import load_registry
    from dgmbench.specs import resolve

    spec = load_registry().dataset(record.dataset)
    data = resolve(spec.load)("test", record.data_root, False, **dict(spec.options))
    return data.x[torch.arange(min(n, len(data)))]
