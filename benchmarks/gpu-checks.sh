#!/usr/bin/env bash
# The GPU measurements the issues still owe, as one prepared script for a session that is lent a
# GPU. Stage first, here: `bash benchmarks/stage-gpu.sh` (CIFAR-10 and pure-Python wheels into the
# git-ignored gpu-stage/). Then one device call per part, each under the 10-minute command limit:
#     run(command="bash benchmarks/gpu-checks.sh a", carry=["gpu-stage"], timeout_s=600)
#     run(command="bash benchmarks/gpu-checks.sh b", carry=["gpu-stage"], timeout_s=600)
# a: the GPU tests, RealNVP on CIFAR-10 (issue 2), bf16 + torch.compile throughput and PixelCNN++
#    sampling with and without the row cache (issue 4)                              ~9 minutes
# b: the k = 5000 NLL four ways (issue 3; OWED for issue 10 item 1: its PASS/FAIL line, the
#    planner's suite within 2x of the fully batched time), features from the sampler vs a PNG
#    folder and FID fp32 vs bf16 (issue 5; OWED for issue 10 item 3: bf16 is CUDA-only now)  ~9 minutes
# r: issue 13 (reversible networks): RevNet vs ResNet step time and CUDA peak memory side by side,
#    revnet-memory with its CUDA column, the six CIFAR-10 cells of revnet-table and the irevnet cell
#    at a named 500-step budget, the plugin's tests on a CUDA box                   ~6 minutes
#    (measured once on an H200, 2026-11-29: leaderboards/*/gpu. Still OWED: the paper's 80,000-step
#    schedule on the full CIFAR-10 and CIFAR-100 -- hours per cell, and CIFAR-100 is not staged)
# t: OWED for issue 10 item 2 (no device sync per training step): the harness's training loop
#    against a bare loop over the same train_step, 1-layer VAE and RealNVP on CIFAR-10 shapes
#    (target >= 0.95, PASS/FAIL printed), and the device-binarization test on CUDA   ~4 minutes
# g, h: OWED for issue 11 (GANs): the plugin's tests on CUDA (bf16 train steps), G + D updates/s fp32
#    eager vs bf16 + torch.compile, and the CIFAR-10 cells of gan-losses at a named 1,000-step budget
#    (g: seed 0, h: seeds 1 2). Still owed beyond these parts: gan-losses at its standard quick budget
#    (20 epochs, all three datasets; about an hour on one GPU):
#    dgmbench reproduce gan-losses --device cuda --feature-net domain            ~9 minutes each
# s: OWED for issue 15 (scale): torchrun with NCCL against one process (two GPUs when there are,
#    else a group of one), and reproduce --executor slurm through submitit's local executor with
#    one GPU per run (Ray's wheel is too big to stage; its GPU path is owed too)     ~4 minutes
# d: OWED for issue 12 (disentanglement): the disentanglement protocol at its quick budget (3,000 steps,
#    lr 1e-4, disentanglement_lib's settings with fewer steps) on seed 0, five VAE cells, scores on
#    2,000 / 1,000 points; the metrics benchmark with a 1,000-step beta-VAE (needs scikit-learn there) ~9 minutes
# q, v: OWED for issue 14 (quantized models): q: the fqgan protocol's CIFAR-10 cells (DCGAN, FQ-DCGAN,
#    StyleGAN, FQ-StyleGAN), 3 seeds, at a named 2,000-step budget, 10,000 samples for FID/KID/IS/PR (the
#    caption's "feature quantization lowers FID" on a GPU budget); v: the vqvae2 protocol's CIFAR-10 cells
#    (small and default widths) at its quick budget, 5,000 samples; q also runs the plugin's tests on the
#    CUDA box. Still owed beyond these: fqgan at its quick budget (5,000 steps), the MNIST and CelebA cells
#    of both (not staged), and Inception features where clean-fid's weights can be staged  ~9 minutes each
# gq: issues 11 and 14 in one call, for a session lent a single call's worth of device time: both plugins'
#    tests on CUDA, G + D updates/s (fp32 eager, bf16 eager, bf16 + torch.compile), and the fqgan CIFAR-10
#    cells on seed 0 at a named 2,000-step budget with 5,000 samples                 ~9 minutes
#    (run once on an H200, 2026-11-30: leaderboards/fqgan/gpu, leaderboards/gan-losses/gpu. Still OWED:
#    the updates/s again since the per-step sync fix, the GAN no-sync test and the domain-net
#    determinism test, fqgan seed 2 -- carry leaderboards/fqgan/gpu/results.sqlite as $OUT/fqgan.sqlite)
# Every step has its own time limit and its output goes to $OUT (the device tool brings $OUT back),
# so a slow step cannot take the others down.
set -uo pipefail
export PIP_BREAK_SYSTEM_PACKAGES=1  # a system Python there may be "externally managed"; older pips ignore this
PART=${1:-a}
OUT=${OUT:-gpu-out}; STAGE=${STAGE:-gpu-stage}; mkdir -p "$OUT"
export DGMBENCH_DATA=$STAGE/data DGMBENCH_RESULTS=$OUT/results.sqlite DGMBENCH_CACHE=$STAGE/cache
step() { local t=$1; shift; echo "== [$t s] $*" | tee -a "$OUT/log.txt"; timeout "$t" "$@" >>"$OUT/log.txt" 2>&1
         echo "   exit $?" | tee -a "$OUT/log.txt"; }

# setup (no network there): unpack the data, install pytest and this checkout without dependencies
find "$STAGE/data" -name '*.gz' -exec gunzip -f {} + 2>/dev/null
# `python -m pip`: the box's `pip` belongs to a system Python without torch (/usr/local/bin/pip)
wheels() { python -m pip install -q --no-index --find-links "$STAGE/wheels" "$@" >>"$OUT/log.txt" 2>&1; }
editable() { python -m pip install -q --no-index --no-deps --no-build-isolation $(printf -- '-e %s ' "$@") \
               >>"$OUT/log.txt" 2>&1; }
wheels pytest setuptools wheel
editable . plugins/baselines plugins/flows plugins/autoregressive plugins/latent plugins/reversible
{ nvidia-smi --query-gpu=name,memory.total --format=csv; python -c "import torch; print(torch.__version__)"; } \
  >>"$OUT/log.txt" 2>&1

if [[ $PART == a ]]; then
  step 90 python -m pytest -q tests/test_gpu.py
  step 180 dgmbench run --plugin realnvp --dataset cifar10 --device cuda --no-progress --max-seconds 60
  step 200 python benchmarks/train_throughput.py --device cuda --steps 10 --warmup 3 \
    --models realnvp glow pixelcnn gated-pixelcnn pixelcnnpp
  step 80 python plugins/autoregressive/benchmarks/sampling.py --device cuda --models pixelcnnpp
elif [[ $PART == b ]]; then
  step 60 python -m pytest -q tests/test_iw_plan.py  # issue 10 item 1: the CUDA memory bound (OWED)
  step 150 python benchmarks/iwae_nll.py --device cuda --n 1000
  step 90 python benchmarks/iwae_nll.py --device cuda --n 10000 --skip per-image chunk-64
  step 300 python benchmarks/sample_features.py --device cuda --n 50000 --feature-net domain \
    --data-root "$DGMBENCH_DATA" --max-train 10000
elif [[ $PART == t ]]; then  # issue 10 item 2; every number below is still owed
  step 60 python -m pytest -q tests/test_training.py -k "binarization or nan or history"
  step 180 python benchmarks/train_throughput.py --vs-harness --device cuda --steps 200 --warmup 20 --repeats 3
elif [[ $PART == r ]]; then  # issue 13; every number below is still owed
  step 80 python plugins/reversible/benchmarks/revnet_cost.py --device cuda --batch 128 --steps 5
  step 60 python -m dgmbench reproduce revnet-memory --budget full --device cuda --no-progress \
    --output "$OUT/revnet-memory.md"
  step 45 python -m pytest -q plugins/reversible/tests
  # the paper trains 80,000 steps per cell (hours per cell on one GPU): a named 500-step budget here
  step 240 python -m dgmbench reproduce revnet-table --budget full --max-steps 500 --device cuda --no-progress \
    --cells cifar10-resnet32 cifar10-revnet38 cifar10-resnet110 cifar10-revnet110 cifar10-resnet164 \
    cifar10-revnet164 --output "$OUT/revnet-table.md"
  step 50 python -m dgmbench reproduce irevnet --budget full --max-steps 500 --device cuda --no-progress \
    --output "$OUT/irevnet.md"
elif [[ $PART == q || $PART == v ]]; then  # issue 14; every number below is still owed
  editable plugins/gans plugins/quantized
  Q_B=(--budget quick --device cuda --no-progress --feature-net domain)
  if [[ $PART == q ]]; then
    step 60 python -m pytest -q plugins/quantized/tests
    step 480 dgmbench reproduce fqgan "${Q_B[@]}" --max-steps 2000 --seeds 0 1 2 \
      --metric-option sample_metric_n=10000 --cells cifar10-dcgan cifar10-fq-dcgan cifar10-stylegan \
      cifar10-fq-stylegan --results "$OUT/fqgan.sqlite" --output "$OUT/fqgan.md"
  else
    step 540 dgmbench reproduce vqvae2 "${Q_B[@]}" --seeds 0 --metric-option sample_metric_n=5000 \
      --cells cifar10-small cifar10 --results "$OUT/vqvae2.sqlite" --output "$OUT/vqvae2.md"
  fi
elif [[ $PART == gq ]]; then  # issues 11 and 14 together
  editable plugins/gans plugins/quantized
  step 90 python -m pytest -q plugins/gans/tests  # incl. the no-sync-per-step test (OWED since the fix)
  step 60 python -m pytest -q tests/test_gpu.py -k domain  # the domain net trains to one network (OWED)
  step 170 python plugins/gans/benchmarks/throughput.py --part updates --device cuda --dataset cifar10 \
    --models nsgan wgan-gp began --steps 100
  step 60 python -m pytest -q plugins/quantized/tests
  step 200 dgmbench reproduce fqgan --budget quick --device cuda --no-progress --feature-net domain \
    --max-steps 2000 --seeds 0 --metric-option sample_metric_n=5000 --cells cifar10-dcgan cifar10-fq-dcgan \
    cifar10-stylegan cifar10-fq-stylegan --results "$OUT/fqgan.sqlite" --output "$OUT/fqgan.md"
elif [[ $PART == s ]]; then  # issue 15; every number below is still owed
  wheels submitit
  step 240 python -m pytest -q tests/test_distributed.py
  step 200 dgmbench reproduce posterior-collapse --budget smoke --executor slurm --slurm-cluster local \
    --num-gpus 1 --device cuda --no-progress --results "$OUT/scale.sqlite"
  step 30 dgmbench runs --results "$OUT/scale.sqlite"
elif [[ $PART == d ]]; then  # issue 12; every number below is still owed
  editable plugins/disentangle
  step 420 python -m dgmbench reproduce disentanglement --budget quick --device cuda --no-progress --seeds 0 \
    --cells vae betavae-4 betavae-capacity factorvae-10 factorvae-40 --metric-option betavae_train=2000 \
    --metric-option betavae_eval=1000 --metric-option factorvae_train=2000 --metric-option factorvae_eval=1000 \
    --results "$OUT/disentanglement.sqlite" --output "$OUT/disentanglement.md"
  step 120 python plugins/disentangle/benchmarks/disentanglement_metrics.py --steps 1000 --points 1000 --chunk 1024
elif [[ $PART == g || $PART == h ]]; then  # issue 11; every number below is still owed
  editable plugins/gans
  GAN_B=(--budget quick --max-steps 1000 --device cuda --no-progress --feature-net domain
         --metric-option sample_metric_n=10000 --results "$OUT/gan-losses.sqlite")
  GAN_CELLS=(cifar10-gan cifar10-nsgan cifar10-lsgan cifar10-wgan cifar10-wgan-gp cifar10-dragan cifar10-began
             cifar10-ebgan cifar10-cgan cifar10-acgan cifar10-infogan)
  if [[ $PART == g ]]; then
    step 90 python -m pytest -q plugins/gans/tests
    step 150 python plugins/gans/benchmarks/throughput.py --part updates --device cuda --dataset cifar10 \
      --models nsgan wgan-gp began --steps 100
    step 330 dgmbench reproduce gan-losses "${GAN_B[@]}" --seeds 0 --cells "${GAN_CELLS[@]}" \
      --output "$OUT/gan-losses.md"
  else
    step 560 dgmbench reproduce gan-losses "${GAN_B[@]}" --seeds 1 2 --cells "${GAN_CELLS[@]}" \
      --output "$OUT/gan-losses.md"
  fi
fi
tail -c 12000 "$OUT/log.txt"
