"""The ``gan-losses`` and ``gan-modes`` protocols (specs only, no torch)."""
from dgmbench import Cell, ProtocolSpec

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
            reference="gan_losses_lucic2018_fid.csv", columns={"fid [inception]": "fid_inception"},
            seeds=(0, 1, 2),
            budgets={"quick": {"epochs": 20, "batch_size": 64}, "full": {"epochs": 50, "batch_size": 64}},
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
            budgets={"quick": {"epochs": 20, "batch_size": 64}, "full": {"epochs": 50, "batch_size": 64}},
            caption="Modes covered (of 8, 25 or 1,000; higher is better), KL of every sample's mode histogram to "
                    "uniform (lower is better), the share of high-quality samples (within 3 sigma of a mode; 2-D "
                    "only) and, for Stacked MNIST, the test accuracy of the digit classifier that reads each "
                    "channel (mode counts from a classifier below 0.95 are not claims).",
        ),
    ]
