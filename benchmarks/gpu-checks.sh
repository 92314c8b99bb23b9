#!/usr/bin/env bash
# The GPU measurements the issues still owe, as one prepared script for a session that is lent a
# GPU (run from the repository root with the data copied under ./data, e.g. MNIST's .gz files
# gunzipped and cifar-10-batches-py). Each step has its own time limit and writes to $OUT (or
# ./gpu-out), so a slow step cannot take the others down. About 10 minutes on one H100.
set -uo pipefail
OUT=${OUT:-gpu-out}; DATA=${DGMBENCH_DATA:-data}; mkdir -p "$OUT"
export DGMBENCH_DATA=$DATA DGMBENCH_RESULTS=$OUT/results.sqlite
step() { local t=$1; shift; echo "== $*" | tee -a "$OUT/log.txt"; timeout "$t" "$@" 2>&1 | tee -a "$OUT/log.txt" | tail -20; }

step 120 python -m pytest -q tests/test_gpu.py
# issue 2: RealNVP on CIFAR-10, quick budget (train images/s and test bits/dim are printed and stored)
step 300 dgmbench run --plugin realnvp --dataset cifar10 --device cuda --no-progress --max-seconds 120
# issue 4: bf16 + torch.compile vs fp32 eager, and PixelCNN++ sampling with and without the row cache
step 300 python benchmarks/train_throughput.py --device cuda --steps 20 --warmup 5
step 240 python plugins/autoregressive/benchmarks/sampling.py --device cuda --models pixelcnnpp
# issue 3: the k = 5000 NLL over the 10,000 MNIST test images, four ways side by side
step 240 python benchmarks/iwae_nll.py --device cuda --n 10000
# issue 5: features straight from the sampler vs through a PNG folder, FID fp32 vs bf16
step 240 python benchmarks/sample_features.py --device cuda --n 50000 --feature-net domain
