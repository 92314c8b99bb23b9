#!/usr/bin/env bash
# Stage what benchmarks/gpu-checks.sh needs on a GPU box that has no network, into ./gpu-stage/
# (git-ignored): CIFAR-10 from the shared data root, gzipped so that it and the code fit the 64 MiB
# a device call may carry (the 1-of-5 train batch and the test batch: 57 MB), and pure-Python
# wheels for pytest and setuptools (the box has torch, torchvision, pluggy, pandas, scikit-learn,
# tabulate, tqdm; matplotlib may be missing, and then the runs skip their plots).
#     bash benchmarks/stage-gpu.sh [DATA_ROOT]        (default ../shared/data)
# then `bash benchmarks/device-tree.sh slim` (the committed runs and the data exceed a call's 64 MiB),
# with the device tool: run(command="bash benchmarks/gpu-checks.sh a", carry=["gpu-stage"]),
# and `bash benchmarks/device-tree.sh restore` afterwards.
# and, in a second call if device time is left, the same with "b".
set -euo pipefail
DATA=${1:-../shared/data}
STAGE=gpu-stage
mkdir -p "$STAGE/data/cifar-10-batches-py" "$STAGE/wheels"
for f in batches.meta data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  [[ -f $DATA/cifar-10-batches-py/$f ]] && gzip -c "$DATA/cifar-10-batches-py/$f" > "$STAGE/data/cifar-10-batches-py/$f.gz"
done
pip download --quiet --no-deps -d "$STAGE/wheels" pytest iniconfig packaging pygments pluggy setuptools wheel \
  submitit cloudpickle typing_extensions
du -sh "$STAGE"
