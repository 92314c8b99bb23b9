"""How fast the command line answers, and what the default run costs on this machine.

Prints wall times of `dgmbench --help`, `dgmbench plugins`, `dgmbench list models` and of a
misspelt dataset name being rejected (median of N fresh processes each) beside
`python -c "import torch"` measured in the same run, so the ratio shows that listing and name
checks do not pay for torch. With --default-run it also times the
README's main job, `dgmbench run --plugin realnvp`, once, into a scratch results file.

    python benchmarks/cli_startup.py [--repeat 5] [--default-run]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd: list[str], env=None, exit_code: int = 0) -> float:
    start = time.perf_counter()
    rc = subprocess.run(cmd, capture_output=True, env=env).returncode
    if rc != exit_code:
        raise SystemExit(f"{' '.join(cmd)} exited with {rc}, expected {exit_code}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--default-run", action="store_true")
    args = ap.parse_args()
    py = sys.executable
    cases = {
        "python -c 'import torch' (reference)": [py, "-c", "import torch"],
        "dgmbench --help": [py, "-m", "dgmbench", "--help"],
        "dgmbench plugins": [py, "-m", "dgmbench", "plugins"],
        "dgmbench list models": [py, "-m", "dgmbench", "list", "models"],
    }
    times = {name: statistics.median(wall(cmd) for _ in range(args.repeat)) for name, cmd in cases.items()}
    misspelt = [py, "-m", "dgmbench", "run", "--plugin", "realnvp", "--dataset", "mnistt"]  # exit code 2
    times["dgmbench run --dataset mnistt (rejected)"] = statistics.median(wall(misspelt, exit_code=2)
                                                                         for _ in range(args.repeat))
    ref = times["python -c 'import torch' (reference)"]
    print(f"{'command':40s} {'median s':>9s} {'/ import torch':>15s}")
    for name, t in times.items():
        print(f"{name:40s} {t:9.3f} {t / ref:15.2f}")
    if args.default_run:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DGMBENCH_RESULTS": os.path.join(tmp, "r.sqlite")}
            t = wall([py, "-m", "dgmbench", "run", "--plugin", "realnvp", "--no-progress"], env=env)
        print(f"{'dgmbench run --plugin realnvp (quick)':40s} {t:9.1f}")


if __name__ == "__main__":
    main()
