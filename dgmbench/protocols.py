"""The core's protocols: the tables whose cells span several plugins' models (CIFAR-10 bits/dim,
MNIST NLL) or use the core's own latent-variable metrics (VAE vs IWAE, posterior collapse).

Each protocol's spec, its claims (functions of the leaderboard table, written with the public
helpers of :mod:`dgmbench.claims`) and its reference CSV (``dgmbench/references/``) are together
here. A spec names its cells (model x dataset x config), the labels that join a cell to the
reference CSV, the metrics, and how budgets differ from the harness defaults. A cell whose model
is not installed is skipped by ``dgmbench reproduce`` with a note. Nothing here imports torch or
pandas.
"""
from __future__ import annotations

from .claims import ours, verdict
from .specs import Cell, ProtocolSpec

CIFAR10_MODELS = [  # (model, reference label)
    ("uniform", "Uniform distribution"),
    ("gaussian", "Multivariate Gaussian"),
    ("nice", "NICE"),
    ("realnvp", "Real NVP"),
    ("glow", "Glow"),
    ("pixelcnn", "PixelCNN"),
    ("gated-pixelcnn", "Gated PixelCNN"),
    ("pixelcnnpp", "PixelCNN++"),
    ("conv-draw", "Convolutional DRAW"),
    ("iaf-vae", "ResNet VAE with IAF"),
    ("vlae", "ResNet VLAE"),
    ("row-lstm", "PixelRNN (Row LSTM)"),
    ("diagonal-bilstm", "PixelRNN"),
    ("pixelsnail", "PixelSNAIL"),
    ("deep-gmm", "Deep GMMs"),
    ("deep-diffusion", "Deep Diffusion"),
    ("ddpm", "DDPM (L_simple)"),
]

#: the CIFAR-10 row of the IAF paper is its hierarchical model (bidirectional inference), not the
#: single-layer ResNet VAE of its MNIST row
MODEL_OF_CELL = {"iaf-vae": "iaf-hierarchical-vae"}


#: the named budgets of every table (dgmbench.budgets): ``cpu`` is sized from per-step times of one
#: cell measured on a 2-core CPU, for the whole table in about 30-45 minutes with ``--jobs 2``; ``gpu``
#: for the whole table, three seeds, in one device command of at most 9 minutes on one H200 with
#: ``--jobs auto`` (two for a CIFAR-10 table); its note, printed in the caption, says what fraction of
#: the paper's schedule it is
NAMED_BUDGETS = {
    "cifar10-bpd": {
        # a PixelCNN++ step on 32x32x3 takes seconds on a CPU: small batches, one held-out point
        "smoke": {"batch_size": 8, "max_test_examples": 32, "eval_every": 5, "grid_samples": 0},
        "cpu": {"epochs": 1000, "max_steps": 150, "batch_size": 32, "max_test_examples": 500,
                "metric_options": {"nll_k": 100},
                "note": "150 steps of batch 32 per model, 500 test images: a check that every model trains, "
                        "far from the papers' hundreds of epochs"},
        "gpu": {"epochs": 1000, "max_steps": 5000, "batch_size": 64,
                "note": "5,000 steps of batch 64 per model (6.4 epochs; the papers train for hundreds of "
                        "epochs, so a few percent of their updates)"},
    },
    "mnist-nll": {
        "smoke": {"batch_size": 16, "max_test_examples": 64, "eval_every": 5, "grid_samples": 0},
        "cpu": {"epochs": 1000, "max_steps": 600, "batch_size": 64, "max_test_examples": 1000,
                "metric_options": {"nll_k": 200},
                "note": "600 steps of batch 64 per model (0.64 epoch), 1,000 test images, k = 200"},
        "gpu": {"epochs": 1000, "max_steps": 5000, "batch_size": 64,
                "note": "5,000 steps of batch 64 per model (5.3 epochs; the papers train for hundreds of "
                        "epochs: a few percent of their updates)"},
    },
    "iwae-table": {
        "cpu": {"epochs": 1000, "max_steps": 2500, "batch_size": 20, "max_test_examples": 1000, "eval_every": 500,
                "metric_options": {"nll_k": 200},
                "note": "2,500 steps of batch 20 (the paper's batch; 0.8 epoch of MNIST) per cell, NLL with "
                        "k = 200 on 1,000 test images; the paper: 3,280 epochs (0.03 % of its updates)"},
        "gpu": {"epochs": 1000, "max_steps": 10_000, "batch_size": 100, "metric_options": {"nll_k": 5000},
                "note": "10,000 steps of batch 100 (17 epochs of MNIST) per cell; the paper: 3,280 epochs of "
                        "batch 20 (about 9.8 million steps, 0.1 % of its updates); NLL with k = 5,000"},
    },
    "posterior-collapse": {
        "cpu": {"epochs": 1000, "max_steps": 3000, "batch_size": 64,
                "note": "3,000 steps of batch 64 (the lecture notes' toy example has no published schedule)"},
        "gpu": {"epochs": 1000, "max_steps": 10_000, "batch_size": 64,
                "note": "10,000 steps of batch 64 (the lecture notes' toy example has no published schedule)"},
    },
}


MNIST_NLL_CELLS = [  # (cell, model, config, reference label; ours-only rows have no paper value)
    ("planar-vae", "planar-vae", {}, "Normalizing flows (Rezende & Mohamed 2015)"),
    ("vae", "vae", {"layers": 2, "k": 1}, "VAE, 2 stochastic layers (ours)"),
    ("iwae", "iwae", {"layers": 2, "k": 50}, "IWAE, 2 stochastic layers, k = 50 (ours)"),
    ("pixelcnn", "pixelcnn", {}, "PixelCNN (ours)"),
    ("gated-pixelcnn", "gated-pixelcnn", {}, "Gated PixelCNN (ours)"),
    ("pixelcnnpp", "pixelcnnpp", {}, "PixelCNN++ (ours)"),
    ("iaf-vae", "iaf-vae", {}, "IAF VAE (Kingma et al. 2016)"),
    ("af-vae", "af-vae", {}, "AF VAE"),
    ("vlae", "vlae", {}, "VLAE"),
    ("draw", "draw", {}, "DRAW (Gregor et al. 2015)"),
    ("dvae", "dvae", {}, "Discrete VAE (Rolfe 2016)"),
    ("row-lstm", "row-lstm", {}, "PixelRNN Row LSTM (ours)"),
    ("diagonal-bilstm", "diagonal-bilstm", {}, "PixelRNN (van den Oord et al. 2016)"),
]


def builtin_protocols() -> list[ProtocolSpec]:
    return [
        ProtocolSpec(
            name="cifar10-bpd", version="3",  # what each version changed: CHANGELOG.md
            description="CIFAR-10 test bits/dim of tractable-likelihood models (VLAE, arXiv 1611.02731v2, Table 5)",
            cells=[Cell(m, MODEL_OF_CELL.get(m, m), "cifar10", labels={"model": label}) for m, label in CIFAR10_MODELS]
            + [Cell("vlae-densenet", "vlae", "cifar10", config={"backbone": "densenet"},
                    labels={"model": "DenseNet VLAE"})],
            metrics=["nll"], reference="cifar10_bits_per_dim.csv", columns={"bpd": "bits_per_dim", "fid": "fid"},
            budgets={"quick": {"epochs": 1000, "max_steps": 10_000, "batch_size": 64},  # equal updates per model
                     **NAMED_BUDGETS["cifar10-bpd"]},
            caption="Test bits/dim on CIFAR-10 (lower is better); paper values from Chen et al. 2017, Table 5 "
                    "(Glow: Kingma & Dhariwal 2018, Table 2; PixelRNN's Row LSTM: van den Oord et al. 2016; "
                    "PixelSNAIL: Chen et al. 2018; DDPM: Ho et al. 2020, Table 1; each row's source and how it "
                    "was checked: the reference CSV). Diffusion models report their variational bound "
                    "(nll_is_bound = 1).",
            claims="dgmbench.protocols:cifar10_ordering",
        ),
        # -- tractable-likelihood models on MNIST --
        ProtocolSpec(
            name="mnist-nll", version="3",  # what each version changed: CHANGELOG.md
            description=("Statically binarized MNIST test NLL (VLAE, arXiv 1611.02731v2, Table 1) "
                         "for the models the suite has"),
            cells=[Cell(key, model, "mnist-binary-static", config=config, labels={"model": label})
                   for key, model, config, label in MNIST_NLL_CELLS],
            metrics=["nll"], reference="mnist_nll_vlae.csv", columns={"nll": "nll_nats"},
            budgets={"quick": {"epochs": 1000, "max_steps": 10_000},  # equal updates per model
                     **NAMED_BUDGETS["mnist-nll"]},
            caption="Test NLL in nats on statically binarized MNIST (lower is better); paper values from Chen et "
                    "al. 2017, Table 1. Latent-variable models: importance-sampled with k = nll_k.",
        ),
        # -- latent-variable models --
        ProtocolSpec(
            name="iwae-table", version="3",  # what each version changed: CHANGELOG.md
            description="VAE vs IWAE: test NLL (k = 5000) and active units; MNIST and Omniglot, dynamically "
                        "binarized; 1 and 2 stochastic layers; k = 1, 5, 50 (Burda et al. 2016, Table 1)",
            cells=[Cell(f"{ds}-l{layers}-k{k}-{m}", m, ds, config={"layers": layers, "k": k},
                        labels={"dataset": label, "stochastic_layers": layers, "k": k, "model": m.upper()})
                   for ds, label in (("mnist-binary", "MNIST"), ("omniglot-binary", "OMNIGLOT"))
                   for layers in (1, 2) for k in (1, 5, 50) for m in ("vae", "iwae")],
            metrics=["nll", "active_units"], reference="iwae_vae_nll_active_units.csv",
            claims="dgmbench.protocols:iwae_table",
            columns={"nll": "nll_nats", "active_units_layer1": "active_units_layer1",
                     "active_units_layer2": "active_units_layer2"},
            budgets={**{b: {"metric_options": {"nll_k": 5000}} for b in ("quick", "full")},
                     **NAMED_BUDGETS["iwae-table"]},
            caption="Test NLL in nats (importance-sampled with k = nll_k samples: 5000 in the quick and full "
                    "budgets, a changed k shows in the budget name; lower is better) and active units "
                    "(layer 1, layer 2); paper values from Burda et al. 2016, Table 1. Omniglot here may be "
                    "the small background subsets (see each run's data note).",
        ),
        ProtocolSpec(
            name="posterior-collapse", version="2",  # what each version changed: CHANGELOG.md
            description="Posterior collapse toy example: a VAE with diagonal-Gaussian encoder and decoder on "
                        "x ~ N(mu, Sigma); Sigma diagonal (no active unit expected) vs not (units used)",
            cells=[Cell(f"vae-{kind}", "vae", f"gaussian-{kind}", labels={"covariance": words},
                        config={"layers": 1, "k": 1, "latent": 2, "hidden": [[32, 32]], "decoder": "gaussian"})
                   for kind, words in (("diag", "diagonal"), ("full", "non-diagonal"))],
            metrics=["nll", "active_units", "elbo_surgery"], values=["active_units", "avg_kl", "nll"],
            budgets=NAMED_BUDGETS["posterior-collapse"],
            claims="dgmbench.protocols:posterior_collapse",
            caption="Active units and the KL term (avg_kl = KL(q(z)||p(z)) + I[n,z]); expected: 0 active units "
                    "and avg_kl near 0 for the diagonal Sigma, at least 1 active unit otherwise.",
        ),
    ]


# -- the claims of the protocols above --

CIFAR10_ORDER = ["uniform", "gaussian", "nice", "realnvp", "pixelcnn", "gated-pixelcnn", "pixelcnnpp"]


def cifar10_ordering(df) -> list[str]:
    """uniform > Gaussian > NICE > RealNVP > PixelCNN > Gated PixelCNN > PixelCNN++ in bits/dim,
    checked between consecutive measured models."""
    bpd = ours(df, "bpd")
    measured = [m for m in CIFAR10_ORDER if m in bpd]
    pairs = [(a, b) for a, b in zip(measured, measured[1:])]
    results = [(bpd[a] > bpd[b], f"{a} {bpd[a]:.3f} <= {b} {bpd[b]:.3f}") for a, b in pairs]
    return [verdict("The paper's ordering uniform > Gaussian > NICE > RealNVP > PixelCNN > Gated PixelCNN > "
                     "PixelCNN++ (bits/dim)", results)]


def iwae_table(df) -> list[str]:
    """Burda et al.'s claims: IWAE's NLL falls as k grows; IWAE beats VAE at the same k > 1;
    IWAE has more active units than VAE at k = 50; two stochastic layers beat one."""
    nll = ours(df, "nll")
    units = {c: v + ours(df, "active_units_layer2").get(c, 0.0) for c, v in ours(df, "active_units_layer1").items()}
    sets = ("mnist-binary", "omniglot-binary")
    key = lambda ds, layers, k, m: f"{ds}-l{layers}-k{k}-{m}"  # noqa: E731 - the protocol's cell keys
    falls, beats, more_units, deeper = [], [], [], []
    for ds in sets:
        for layers in (1, 2):
            for k1, k2 in ((1, 5), (5, 50)):
                a, b = key(ds, layers, k1, "iwae"), key(ds, layers, k2, "iwae")
                if a in nll and b in nll:
                    falls.append((nll[b] < nll[a], f"{b} {nll[b]:.2f} >= {a} {nll[a]:.2f}"))
            for k in (5, 50):
                v, i = key(ds, layers, k, "vae"), key(ds, layers, k, "iwae")
                if v in nll and i in nll:
                    beats.append((nll[i] < nll[v], f"{i} {nll[i]:.2f} >= {v} {nll[v]:.2f}"))
            v, i = key(ds, layers, 50, "vae"), key(ds, layers, 50, "iwae")
            if v in units and i in units:
                more_units.append((units[i] > units[v], f"{i} {units[i]:.0f} <= {v} {units[v]:.0f}"))
        for k in (1, 5, 50):
            for m in ("vae", "iwae"):
                one, two = key(ds, 1, k, m), key(ds, 2, k, m)
                if one in nll and two in nll:
                    deeper.append((nll[two] < nll[one], f"{two} {nll[two]:.2f} >= {one} {nll[one]:.2f}"))
    return [verdict("IWAE's NLL falls as k grows", falls),
            verdict("IWAE's NLL is below VAE's at the same k > 1", beats),
            verdict("IWAE has more active units than VAE at k = 50", more_units),
            verdict("Two stochastic layers beat one", deeper)]


def posterior_collapse(df) -> list[str]:
    """The seeds' claim: no active unit for diagonal Sigma, at least one otherwise."""
    units = ours(df, "active_units")
    results = []
    if "vae-diag" in units:
        results.append((units["vae-diag"] == 0, f"diagonal: {units['vae-diag']:.2f} active units"))
    if "vae-full" in units:
        results.append((units["vae-full"] >= 1, f"non-diagonal: {units['vae-full']:.2f} active units"))
    return [verdict("Latents unused for diagonal Sigma and used otherwise", results)]


#: the diagonal VAE's flat held-out curve is the claim (it collapses), not a cell that did not train
posterior_collapse.expected_plateaus = ("vae-diag",)
