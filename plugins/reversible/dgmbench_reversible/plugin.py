"""The plugin module (light: no torch import): the models ``resnet``, ``revnet`` and ``irevnet``
and the protocols ``revnet-table``, ``revnet-memory`` and ``irevnet``."""
from __future__ import annotations

from pathlib import Path

from dgmbench import ModelSpec, hookimpl
from dgmbench.specs import Cell, ProtocolSpec

REFERENCES = Path(__file__).resolve().parent / "references"

#: i-RevNet configurations (dgmbench_reversible.irevnet): the authors' CIFAR network (the default for
#: images of 32 pixels or more), the bijective network of the CPU table, and the one for small images
IREVNET_AUTHORS_CIFAR = {"init_ds": 0, "blocks": [18, 18, 18], "strides": [1, 2, 2], "channels": [16, 64, 256],
                         "mult": 4, "dropout": 0.1}
IREVNET_CPU = {"init_ds": 2, "blocks": [6, 6, 6], "strides": [1, 2, 2], "channels": None, "mult": 4, "dropout": 0.0}
IREVNET_SMALL = {"init_ds": 1, "blocks": [2, 2, 2], "strides": [1, 2, 2], "channels": None, "mult": 4,
                 "dropout": 0.0}
CLASSIFY = ["classify"]
#: the training keys every classifier takes (dgmbench_reversible.classifier.TRAIN_DEFAULTS)
TRAIN_CONFIG = {"weight_decay": float, "momentum": float, "lr_milestones": list, "augment": bool, "crop_padding": int,
                "lr_schedule": str, "onecycle_steps": int, "label_smoothing": float}

#: the RevNet authors' released CIFAR schedule (both families): 80,000 steps of batch 100, SGD
#: momentum 0.9, lr 0.1 / 10 at 40,000 and 60,000 steps, weight decay 2e-4 (in the model config)
PAPER_SCHEDULE = {"epochs": 160, "max_steps": 80000, "batch_size": 100, "lr": 0.1}
#: a model's budget refines the protocol's (dgmbench.budgets), so it leaves ``epochs`` to the protocol:
#: revnet-memory trains nothing with epochs = 0. Outside a protocol, ``full`` is the harness's 100
#: epochs capped at the paper's 80,000 steps, at the paper's batch size and learning rate.
MODEL_BUDGETS = {"full": {"max_steps": 80000, "batch_size": 100, "lr": 0.1}, "quick": {"batch_size": 100, "lr": 0.1},
                 "smoke": {"lr": 0.05}}
#: the fast CIFAR recipe of the gpu budget, one for every architecture: batch 512, peak lr 0.4 (0.1 per
#: 128 images), one-cycle schedule and label smoothing 0.1 through the model config that the GPU queue
#: passes (--config lr_schedule=onecycle onecycle_steps=1500 label_smoothing=0.1; see classifier.py)
FAST_RECIPE = {"epochs": 1000, "max_steps": 1500, "batch_size": 512, "lr": 0.4,
               "note": "1,500 steps of batch 512 (15 epochs) with the one-cycle recipe (--config lr_schedule=onecycle "
                       "onecycle_steps=1500 label_smoothing=0.1); the paper: 80,000 steps of batch 100 (160 epochs), "
                       "so 9.6 % of its training images"}
#: cpu budgets, sized on the quiet 2-core machine (2026-12-05): ResNet-32 trains 262 images/s and
#: RevNet-38 166 with both cores, the authors' i-RevNet about 24 with one
CPU_CLASSIFIER = {"epochs": 1000, "max_steps": 3000, "batch_size": 64, "lr": 0.05, "max_test_examples": 1000,
                  "note": "3,000 steps of batch 64 (about 4 epochs; 2.4 % of the paper's 80,000 x 100 images), "
                          "1,000 test images: cells that visibly train, far from the paper's errors"}
IREVNET_CPU_BUDGET = {**CPU_CLASSIFIER, "max_steps": 400,
                      "note": "400 steps of batch 64 (0.3 % of the paper's 80,000 x 100 images; the authors' "
                              "network takes about 3 s a step on a 2-core CPU), 1,000 test images: cells that "
                              "train, far from any paper's errors"}
RESNET_CONFIG = {"depth": int, "units": list, "bottleneck": bool, "filters": list, "strides": list}


@hookimpl
def dgmbench_models():
    return [
        ModelSpec("resnet", "dgmbench_reversible.resnet:build", CLASSIFY, budgets=MODEL_BUDGETS,
                  defaults={"depth": 32}, config={**RESNET_CONFIG, **TRAIN_CONFIG},
                  description="CIFAR ResNet-32/110 (basic) and ResNet-164 (bottleneck), pre-activation",
                  paper="He, Zhang, Ren & Sun 2016, Deep residual learning for image recognition"),
        ModelSpec("revnet", "dgmbench_reversible.revnet:build", CLASSIFY, budgets=MODEL_BUDGETS,
                  defaults={"depth": 38}, config={**RESNET_CONFIG, "memory_saving": bool, **TRAIN_CONFIG},
                  description="RevNet-38/110/164: reversible blocks, backward recomputes activations",
                  paper="Gomez, Ren, Urtasun & Grosse 2017, The reversible residual network"),
        ModelSpec("irevnet", "dgmbench_reversible.irevnet:build", ["classify", "invert"], budgets=MODEL_BUDGETS,
                  config={"init_ds": int, "blocks": list, "strides": list, "channels": (list, type(None)),
                          "mult": int, "dropout": float, **TRAIN_CONFIG},
                  description="i-RevNet (bijective): invertible space-to-depth, invert(features) = x",
                  paper="Jacobsen, Smeulders & Oyallon 2018, i-RevNet: deep invertible networks"),
    ]


PAIRS = [("resnet", "ResNet", 32), ("revnet", "RevNet", 38), ("resnet", "ResNet", 110), ("revnet", "RevNet", 110),
         ("resnet", "ResNet", 164), ("revnet", "RevNet", 164)]
DATASETS = [("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100")]
COST = ["saved_mib", "cuda_peak_mib", "train_images_per_s", "parameters"]
#: revnet-memory trains nothing: one batch of 128 test images measures a training step
NO_TRAINING = {"epochs": 0, "max_train_examples": 128, "max_test_examples": 128,
               "metric_options": {"memory_batch": 128, "throughput_steps": 2}}


@hookimpl
def dgmbench_protocols():
    return [
        ProtocolSpec(
            name="revnet-table", version="1",
            description="ResNet vs RevNet (Gomez et al. 2017, Table 3): CIFAR-10/100 top-1 error at three "
                        "depths, with parameters, training memory and throughput",
            cells=[Cell(f"{ds}-{m}{d}", m, ds, config={"depth": d}, labels={"dataset": label, "model": name,
                                                                            "depth": d})
                   for ds, label in DATASETS for m, name, d in PAIRS],
            metrics=["accuracy", "parameters", "train_memory", "throughput"],
            reference=str(REFERENCES / "revnet_cifar_error.csv"), columns={"top1_error": "top1_error_pct"},
            values=["top5_error", *COST],
            budgets={"full": {**PAPER_SCHEDULE, "metric_options": {"memory_batch": 128}},
                     "smoke": {"metric_options": {"memory_batch": 16, "throughput_steps": 1}},
                     "cpu": {**CPU_CLASSIFIER, "metric_options": {"memory_batch": 32, "throughput_steps": 2}},
                     "gpu": {**FAST_RECIPE, "metric_options": {"memory_batch": 128}}},
            claims="dgmbench_reversible.claims:revnet_table",
            caption="Top-1 test error in percent (lower is better) of ResNets and RevNets; paper values from "
                    "Gomez et al. 2017, Table 3. saved_mib: peak bytes held for backward in one training step "
                    "of batch memory_batch; cuda_peak_mib: CUDA peak allocation of that step.",
        ),
        ProtocolSpec(
            name="revnet-memory", version="1",
            description="Training memory against depth: ResNet-32/110/164 vs RevNet-38/110/164 at batch 128 "
                        "on CIFAR-10 images (trains nothing)",
            cells=[Cell(f"{m}{d}", m, "cifar10", config={"depth": d}, labels={"model": name, "depth": d})
                   for m, name, d in PAIRS],
            metrics=["train_memory", "throughput", "parameters"],
            reference=str(REFERENCES / "revnet_memory.csv"), columns={"cuda_peak_mib": "vram_mb"},
            values=["saved_mib", "train_images_per_s", "parameters"],
            budgets={"full": NO_TRAINING, "quick": NO_TRAINING, "cpu": NO_TRAINING, "gpu": NO_TRAINING,
                     "smoke": {**NO_TRAINING, "metric_options": {"memory_batch": 8, "throughput_steps": 1}}},
            claims="dgmbench_reversible.claims:revnet_memory",
            caption="One training step of batch memory_batch (128 in full) per model, nothing trained. saved_mib: peak "
                    "bytes autograd holds for backward (any device); cuda_peak_mib: CUDA peak allocation of the "
                    "step; vram_mb (paper): total GPU memory of training in memcnn's README (van de Leemput "
                    "et al. 2018), a different measure whose ratios are the point.",
        ),
        ProtocolSpec(
            name="irevnet", version="3",
            description="i-RevNet (Jacobsen et al. 2018): accuracy and reconstruction error on CIFAR-10 (the "
                        "paper's ImageNet figures shown with their dataset)",
            cells=[Cell("cifar10-irevnet", "irevnet", "cifar10",
                        labels={"dataset": "CIFAR-10", "architecture": "i-RevNet (a), the authors' CIFAR network"}),
                   Cell("cifar10-irevnet-cpu", "irevnet", "cifar10", config=dict(IREVNET_CPU),
                        labels={"dataset": "CIFAR-10", "architecture": "i-RevNet (b), IREVNET_CPU"})],
            metrics=["accuracy", "reconstruction_error", "parameters"],
            reference=str(REFERENCES / "irevnet_imagenet.csv"), columns={"top1_error": "top1_error_pct"},
            values=["top5_error", "reconstruction_error", "reconstruction_error_levels", "reconstruction_error_float64",
                    "parameters"],
            budgets={"full": PAPER_SCHEDULE, "cpu": IREVNET_CPU_BUDGET, "gpu": FAST_RECIPE},
            claims="dgmbench_reversible.claims:irevnet",
            caption="Top-1 error in percent; the paper's rows are ImageNet (Jacobsen et al. 2018, Table 1), ours "
                    "CIFAR-10 (no ImageNet data here). reconstruction_error: max |x - invert(features(x))| on "
                    "the test images, x in [0, 1]; reconstruction_error_levels: the same in 8-bit grey levels "
                    "(below 0.5 the input is recovered exactly); reconstruction_error_float64: the same max of "
                    "a float64 copy of the trained network (rounding against a wrong inverse). cifar10-irevnet "
                    "is the authors' CIFAR network "
                    "(18-18-18 blocks, halves of 16-64-256 channels, no initial down-sampling: injective, "
                    "6.27M parameters); cifar10-irevnet-cpu the smaller bijective one (init_ds 2, 6-6-6 blocks, "
                    "a 2x2 map), which was v1's only cell. v2 (2026-12-04): the authors' network became the "
                    "default; tables measured under v1 show the bijective network only. v3 (2026-12-05): the "
                    "float64 reconstruction error and its claim.",
        ),
    ]
