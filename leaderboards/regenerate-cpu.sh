#!/usr/bin/env bash
# The leaderboards as measured on a 2-core CPU (no GPU was lent to the session that made them).
# Each protocol runs under its quick budget with smaller limits; the limits are part of the budget
# name every stored number and every caption carries. Run from the repository root:
#     bash leaderboards/regenerate-cpu.sh [protocol ...]
# Cells already in a results file under the same budget are skipped (reproduce --rerun forces them).
# Raw results: leaderboards/<protocol>/results.sqlite; tables: <protocol>.{md,csv}; provenance:
# <protocol>.md.provenance.json (command, machine, budget, date, code and library versions).
set -uo pipefail
DATA=${DGMBENCH_DATA:-../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
want=" ${*:-posterior-collapse cifar10-bpd mnist-nll iwae-table revnet-memory revnet-table irevnet} "

reproduce() {  # protocol, then extra arguments
  local name=$1; shift
  mkdir -p "leaderboards/$name"
  dgmbench reproduce "$name" --data-root "$DATA" --results "leaderboards/$name/results.sqlite" \
    --no-progress --output "leaderboards/$name/$name.md" "$@"
}

csv() {  # protocol: the CSV export of what reproduce stored (one budget per results file)
  dgmbench leaderboard "$1" --results "leaderboards/$1/results.sqlite" --format csv \
    --output "leaderboards/$1/$1.csv"
}

if [[ $want == *" posterior-collapse "* ]]; then
  B=(--budget quick --max-seconds 20)
  reproduce posterior-collapse "${B[@]}" --seeds 0 1 2
  csv posterior-collapse
fi

if [[ $want == *" cifar10-bpd "* ]]; then
  # equal wall-clock training per model; sample metrics (domain feature net) for the models that
  # sample quickly on a CPU -- the autoregressive ones sample pixel by pixel (owed to a GPU run)
  B=(--budget quick --max-seconds 120 --max-test-examples 1000 --metric-option sample_metric_n=1000)
  reproduce cifar10-bpd "${B[@]}" --cells uniform gaussian nice realnvp glow \
    --metric nll --metric fid --metric inception_score --feature-net domain
  reproduce cifar10-bpd "${B[@]}" --cells pixelcnn gated-pixelcnn pixelcnnpp --metric nll --grid-samples 0
  csv cifar10-bpd
fi

if [[ $want == *" mnist-nll "* ]]; then
  B=(--budget quick --max-seconds 90 --max-test-examples 1000 --metric-option nll_k=1000
     --metric-option sample_metric_n=1000)
  reproduce mnist-nll "${B[@]}" --cells planar-vae vae iwae \
    --metric nll --metric fid --metric inception_score --feature-net domain
  reproduce mnist-nll "${B[@]}" --cells pixelcnn gated-pixelcnn pixelcnnpp --metric nll --grid-samples 0
  csv mnist-nll
fi

if [[ $want == *" iwae-table "* ]]; then
  # equal parameter updates per cell (as the paper's equal epochs), however costly its k: 2,000
  # steps of batch 100 (3.3 MNIST epochs; 52 epochs of the small Omniglot subsets)
  B=(--budget quick --max-steps 2000 --epochs 1000 --max-seconds 900 --max-test-examples 500
     --metric-option nll_k=1000 --metric-option sample_metric_n=1000)
  reproduce iwae-table "${B[@]}" --metric nll --metric active_units --metric fid --metric inception_score \
    --feature-net domain
  csv iwae-table
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
