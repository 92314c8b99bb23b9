#!/usr/bin/env bash
# The leaderboards as measured on a 2-core CPU (no GPU was lent to the session that made them).
# Each protocol runs under its quick budget reduced in work (steps, test examples, k) to fit a shared
# CPU; the reductions are part of the budget name every stored number and every caption carries
# (no time limit anywhere: a budget is work). Run from the repository root:
#     bash leaderboards/regenerate-cpu.sh [protocol ...]
# Cells already in a results file under the same budget are skipped (reproduce --rerun forces them).
# Raw results: leaderboards/<protocol>/results.sqlite; tables: <protocol>.{md,csv}; provenance:
# <protocol>.md.provenance.json (command, machine, budget, date, code and library versions).
set -uo pipefail
DATA=${DGMBENCH_DATA:-../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
want=" ${*:-posterior-collapse cifar10-bpd mnist-nll iwae-table revnet-memory revnet-table irevnet identifiability disentanglement gan-modes gan-modes-2d gan-modes-stacked gan-losses fqgan vqvae2} "

reproduce_in() {  # folder, protocol, then extra arguments: results.sqlite, NAME.md and its provenance there
  local dir=$1 name=$2; shift 2
  mkdir -p "$dir"
  dgmbench reproduce "$name" --data-root "$DATA" --results "$dir/results.sqlite" \
    --no-progress --output "$dir/$name.md" "$@"
}

csv_in() {  # folder, protocol: the CSV export of what reproduce stored (one budget per results file)
  dgmbench leaderboard "$2" --results "$1/results.sqlite" --format csv --output "$1/$2.csv"
}

reproduce() { reproduce_in "leaderboards/$1" "$@"; }  # protocol, then extra arguments
csv() { csv_in "leaderboards/$1" "$1"; }

cells() {  # datasets, models: every "<dataset>-<model>" cell key
  local d m; for d in $1; do for m in $2; do echo "$d-$m"; done; done
}

# The four tables below were re-measured under step budgets (issue 9) on a 2-core CPU shared by
# eight sessions, so their steps are few: every cell gets the same number of updates, and the
# held-out curve (history table, runs/*/curves.png) is measured every --eval-every steps. FID/IS
# (a domain classifier trained per dataset) were left out of these re-measurements to fit the time.
if [[ $want == *" posterior-collapse "* ]]; then
  # 3,000 of quick's 9,390 steps (30 epochs of 20,000 / 64); 1,000 test points, k = 1,000
  B=(--budget quick --max-steps 3000 --max-test-examples 1000 --metric-option nll_k=1000 --eval-every 1000)
  reproduce posterior-collapse "${B[@]}" --seeds 0 1 2
  csv posterior-collapse
fi

if [[ $want == *" iwae-table "* ]]; then
  # equal parameter updates per cell (as the paper's equal epochs), however costly its k: 100 steps of
  # batch 100, 200 test images, k = 200 for the NLL
  B=(--budget quick --max-steps 100 --max-test-examples 200 --metric-option nll_k=200 --eval-every 50)
  reproduce iwae-table "${B[@]}" --metric nll --metric active_units
  csv iwae-table
fi

if [[ $want == *" mnist-nll "* ]]; then
  # 50 steps of batch 64 per model, 200 test images, k = 200; the autoregressive models draw no
  # sample grid (pixel by pixel on a CPU)
  B=(--budget quick --max-steps 50 --max-test-examples 200 --metric-option nll_k=200 --eval-every 25)
  reproduce mnist-nll "${B[@]}" --cells planar-vae vae iwae --metric nll
  reproduce mnist-nll "${B[@]}" --cells pixelcnn gated-pixelcnn pixelcnnpp --metric nll --grid-samples 0
  csv mnist-nll
fi

if [[ $want == *" cifar10-bpd "* ]]; then
  # 5 steps of batch 64 per model (a 3x32x32 flow step takes seconds on this CPU), 100 test images,
  # the held-out curve at the end only
  B=(--budget quick --max-steps 5 --max-test-examples 100 --eval-every 5)
  reproduce cifar10-bpd "${B[@]}" --cells uniform gaussian nice realnvp glow --metric nll
  reproduce cifar10-bpd "${B[@]}" --cells pixelcnn gated-pixelcnn pixelcnnpp --metric nll --grid-samples 0
  csv cifar10-bpd
fi

if [[ $want == *" revnet-memory "* ]]; then
  # trains nothing: one training step per model; on a shared CPU at batch 16 (the full budget's
  # 128 is owed to the GPU run; saved bytes scale with the batch, the ratios do not) and one timed step
  reproduce revnet-memory --budget full --metric-option memory_batch=16 --metric-option throughput_steps=1
  csv revnet-memory
fi

if [[ $want == *" revnet-table "* ]]; then
  # the 32/38 pair on CIFAR-10 only, 40 steps of batch 32 at the paper's lr 0.1, 500 test images
  # (the other cells, and the paper's 80,000 steps, are owed to a GPU: benchmarks/gpu-checks.sh r)
  reproduce revnet-table --budget full --cells cifar10-resnet32 cifar10-revnet38 --max-steps 40 --batch-size 32 \
    --max-test-examples 500 --metric-option memory_batch=16 --metric-option throughput_steps=1
  csv revnet-table
fi

if [[ $want == *" irevnet "* ]]; then
  reproduce irevnet --budget full --max-steps 60 --batch-size 32 --max-test-examples 500
  csv irevnet
fi

if [[ $want == *" identifiability "* ]]; then
  # the oracle and its rotated twin train nothing; scores on 500 / 250 points of batch 64 (disentanglement_lib:
  # 10,000 / 5,000), variances and MIG on 5,000 images
  reproduce identifiability --budget quick --metric-option betavae_train=500 --metric-option betavae_eval=250 \
    --metric-option factorvae_train=500 --metric-option factorvae_eval=250 \
    --metric-option factorvae_variance_points=5000 --metric-option mig_points=5000
  csv identifiability
fi

# GANs (issue 11): 200 steps of batch 64 per cell (one critic update per step; n_critic = 5 models make 40
# generator updates), 10,000 training examples; image cells at DCGAN width 8 (--config width=8, stored with
# every run; the protocols' own width is 64), 2-D cells with the default MLPs; gan-losses on MNIST and
# CIFAR-10 (Fashion-MNIST is not in ../shared/data). The standard budget and the protocol's width are owed
# to a GPU (benchmarks/gpu-checks.sh g, h).
GAN_B=(--budget quick --max-steps 200 --max-train-examples 10000 --max-test-examples 1000
       --metric-option domain_net_steps=300 --metric-option mode_samples=2500 --metric-option sample_metric_n=1000)
UNCONDITIONAL="gan nsgan lsgan wgan wgan-gp dragan began ebgan"
if [[ $want == *" gan-modes "* ]]; then
  reproduce gan-modes "${GAN_B[@]}" --cells $(cells "toy2d-ring8 toy2d-grid25" "$UNCONDITIONAL")
  reproduce gan-modes "${GAN_B[@]}" --config width=8 --cells $(cells stacked-mnist "$UNCONDITIONAL")
  csv gan-modes
fi

# gan-modes-2d: the 2-D cells again at 2,000 steps (26 s a run here), where the generators have begun to reach
# the modes, into their own table (one budget per results file): leaderboards/gan-modes/toy2d-2000/.
if [[ $want == *" gan-modes-2d "* ]]; then
  reproduce_in leaderboards/gan-modes/toy2d-2000 gan-modes --budget quick --max-steps 2000 \
    --metric-option mode_samples=2500 --cells $(cells "toy2d-ring8 toy2d-grid25" "$UNCONDITIONAL")
  csv_in leaderboards/gan-modes/toy2d-2000 gan-modes
fi

# gan-modes-stacked: the Stacked MNIST cells again at 2,000 steps (width 8), two runs at a time on a local Ray
# cluster of this machine's 2 CPUs, into their own table: leaderboards/gan-modes/stacked-2000/.
if [[ $want == *" gan-modes-stacked "* ]]; then
  reproduce_in leaderboards/gan-modes/stacked-2000 gan-modes --budget quick --max-steps 2000 \
    --max-train-examples 10000 --metric-option domain_net_steps=300 --metric-option mode_samples=2500 \
    --config width=8 --executor ray --num-cpus 1 --cells $(cells stacked-mnist "$UNCONDITIONAL")
  csv_in leaderboards/gan-modes/stacked-2000 gan-modes
fi

if [[ $want == *" gan-losses "* ]]; then
  reproduce gan-losses "${GAN_B[@]}" --config width=8 --feature-net domain \
    --cells $(cells "${GAN_LOSSES_DATASETS:-mnist cifar10}" "$UNCONDITIONAL cgan acgan infogan")
  csv gan-losses
fi

if [[ $want == *" disentanglement "* ]]; then
  # 50 steps of batch 64 at lr 1e-3 per model (a 64x64 conv step costs ~0.4 CPU-s here, and this CPU was
  # shared ~15 ways; the papers train 300,000 at 1e-4), 200 test images for the reconstruction term; scores
  # on 100 / 50 points of batch 16, variances on 500 and MIG on 1,000 images. DISENTANGLEMENT_CELLS="..."
  # limits the cells (to run them as parallel streams into the same results file).
  reproduce disentanglement --budget quick --max-steps 50 --lr 0.001 --max-test-examples 200 \
    --metric-option betavae_batch=16 --metric-option betavae_train=100 --metric-option betavae_eval=50 \
    --metric-option factorvae_batch=16 --metric-option factorvae_train=100 --metric-option factorvae_eval=50 \
    --metric-option factorvae_variance_points=500 --metric-option mig_points=1000 \
    ${DISENTANGLEMENT_CELLS:+--cells $DISENTANGLEMENT_CELLS}
  csv disentanglement
fi

# Quantized models (issue 14): one seed (the protocols' 3 seeds are owed to a GPU, benchmarks/gpu-checks.sh q),
# batch 32, 10,000 training examples, the domain feature net at 300 steps (shared with the GAN tables).
# fqgan: 200 steps per cell at the protocol's small widths, 3 seeds: both pairs on CIFAR-10 and on MNIST
# (CelebA, not in ../shared/data, is owed with the GPU parts).
# vqvae2: the small cells, 400 steps = 300 VQ-VAE steps (the cells' vqvae_steps) + 100 prior steps.
Q_B=(--budget quick --batch-size 32 --max-train-examples 10000 --metric-option domain_net_steps=300 --seeds 0 1 2
     --feature-net domain)
if [[ $want == *" fqgan "* ]]; then
  reproduce fqgan "${Q_B[@]}" --max-steps 200 --max-test-examples 1000 --metric-option sample_metric_n=1000 \
    --cells ${FQGAN_CELLS:-mnist-dcgan mnist-fq-dcgan mnist-stylegan mnist-fq-stylegan cifar10-dcgan cifar10-fq-dcgan
             cifar10-stylegan cifar10-fq-stylegan}
  csv fqgan
fi

if [[ $want == *" vqvae2 "* ]]; then
  reproduce vqvae2 "${Q_B[@]}" --max-steps 400 --max-test-examples 500 --metric-option sample_metric_n=500 \
    --cells mnist-small cifar10-small
  csv vqvae2
fi
