"""The ``gan-losses`` and ``gan-modes`` protocols (specs only, no torch)."""
from pathlib import Path

from dgmbench import Cell, ProtocolSpec

#: the reference tables shipped with this plugin (package data)
REFERENCES = Path(__file__).resolve().parent / "references"

#: our model name -> Lucic et al. 2018's row label
LOSSES = [("gan", "MM GAN"), ("nsgan", "NS GAN"), ("lsgan", "LSGAN"), ("wgan", "WGAN"), ("wgan-gp", "WGAN GP"),
          ("dragan", "DRAGAN"), ("began", "BEGAN"), ("ebgan", "EBGAN"), ("cgan", "CGAN"), ("acgan", "ACGAN"),
          ("infogan", "InfoGAN")]
UNCONDITIONAL = ["gan", "nsgan", "lsgan", "wgan", "wgan-gp", "dragan", "began", "ebgan"]
LOSS_DATASETS = [("mnist", "MNIST"), ("fashion-mnist", "FASHION"), ("cifar10", "CIFAR")]
MODE_DATASETS = ["toy2d-ring8", "toy2d-grid25", "stacked-mnist"]


def protocols() -> list[ProtocolSpec]:
    return [
        ProtocolSpec(
            name="gan-losses", version="1",
            description="Every GAN loss on the same DCGAN backbone (Lucic et al. 2018): MNIST, Fashion-MNIST, "
                        "CIFAR-10; FID / IS / KID / precision / recall, 3 seeds",
            cells=[Cell(f"{ds}-{m}", m, ds, labels={"dataset": label, "model": name})
                   for ds, label in LOSS_DATASETS for m, name in LOSSES],
            metrics=["fid", "kid", "inception_score", "precision_recall"],
            reference=str(REFERENCES / "gan_losses_lucic2018_fid.csv"), columns={"fid [inception]": "fid_inception"},
            seeds=(0, 1, 2),
            budgets={"quick": {"epochs": 20, "batch_size": 64}, "full": {"epochs": 50, "batch_size": 64},
                     "smoke": {"metric_options": {"domain_net_steps": 100}},  # the feature classifier in seconds
                     "cpu": {"epochs": 1000, "max_steps": 2000, "batch_size": 64,
                             "metric_options": {"sample_metric_n": 2000},
                             "note": "2,000 steps of batch 64 per cell (DCGAN width 8 on the CPU: --config width=8; "
                                     "a step is one D update, so WGAN and WGAN GP, n_critic = 5, make 400 G "
                                     "updates), 2,000 samples per score, 5,000-step feature classifiers; Lucic "
                                     "et al. 2018 train 20 epochs (MNIST) and 40 (CIFAR-10)"},
                     "gpu": {"epochs": 5, "batch_size": 64,
                             "note": "5 epochs of batch 64 per cell, 5,000-step feature classifiers; Lucic et al. "
                                     "2018 train 20 epochs on MNIST and Fashion-MNIST and 40 on CIFAR-10 (a quarter "
                                     "and an eighth of them)"}},
            caption="Sample quality of GAN losses on one DCGAN backbone (FID: lower is better). Paper values: "
                    "Lucic et al. 2018, Table 2 (best FID of a large hyperparameter search, Inception features, "
                    "their own architecture), shown only beside FIDs measured with the same feature network; "
                    "checked against two papers that reprint the table (the CSV's verified column).",
        ),
        ProtocolSpec(
            name="gan-modes", version="1",
            description="Mode coverage of the unconditional GAN losses: 8 Gaussians on a ring, 25 on a grid, "
                        "Stacked MNIST (1,000 modes, 26,000 samples); modes covered and KL to uniform, 3 seeds",
            cells=[Cell(f"{ds}-{m}", m, ds, labels={"dataset": ds, "model": m})
                   for ds in MODE_DATASETS for m in UNCONDITIONAL],
            metrics=["mode_coverage"], values=["modes", "modes_kl", "high_quality", "mode_classifier_accuracy"],
            seeds=(0, 1, 2),
            budgets={"quick": {"epochs": 20, "batch_size": 64}, "full": {"epochs": 50, "batch_size": 64},
                     "smoke": {"metric_options": {"domain_net_steps": 100}},  # the channel classifier in seconds
                     # the channel classifier at 2,000 steps (0.976 test accuracy, over the 0.95 bar below
                     # which counts are not claims): the committed cpu table's network
                     "cpu": {"epochs": 1000, "max_steps": 2000, "batch_size": 64,
                             "metric_options": {"domain_net_steps": 2000},
                             "note": "2,000 steps of batch 64 per cell (DCGAN width 8 on the CPU: --config width=8), "
                                     "26,000 Stacked MNIST samples, a 2,000-step channel classifier"},
                     "gpu": {"epochs": 1000, "max_steps": 10_000, "batch_size": 64,
                             "note": "10,000 steps of batch 64 per cell (10.7 epochs of Stacked MNIST's 60,000 "
                                     "images; half the quick budget's 20 epochs)"}},
            caption="Modes covered (of 8, 25 or 1,000; higher is better), KL of every sample's mode histogram to "
                    "uniform (lower is better), the share of high-quality samples (within 3 sigma of a mode; 2-D "
                    "only) and, for Stacked MNIST, the test accuracy of the digit classifier that reads each "
                    "channel (mode counts from a classifier below 0.95 are not claims).",
        ),
    ]
