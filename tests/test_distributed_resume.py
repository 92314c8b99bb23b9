"""``--resume`` under torchrun: every rank continues from rank 0's checkpoint (the other ranks'
run folders are throwaway ones, with no checkpoint), so two gloo processes stopped by SIGTERM
after epoch 2 and resumed end with the weights of an uninterrupted two-process run."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

TESTS = os.path.dirname(os.path.abspath(__file__))

RANK_SCRIPT = textwrap.dedent('''
    import datetime, os, signal, sys
    from pathlib import Path
    import torch
    import torch.distributed as dist
    from dgmbench.data import DataSplit
    from dgmbench.errors import Terminated
    from dgmbench.specs import Budget, DatasetSpec
    from dgmbench.training import Hooks, TrainingRun, fit
    from toy_models import NoisyGaussian  # tests/ is on PYTHONPATH

    def terminate(signum, frame):
        raise Terminated

    folder = Path(sys.argv[1])
    rank = int(os.environ["RANK"])
    signal.signal(signal.SIGTERM, terminate)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=20))
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1)) * 2 + 1
    spec = DatasetSpec("vectors", load="x:y", shape=(4,), levels=None)

    def train(name, resume=False, stop_after=None):
        def stop(epoch, logs):
            if epoch == stop_after:
                os.kill(os.getpid(), signal.SIGTERM)

        # rank 0's folder holds the checkpoint; the others' are throwaway ones (as under torchrun)
        run = TrainingRun(spec, Budget("t", epochs=4, batch_size=16, lr=0.05), seed=3,
                          checkpoint=folder / name / f"rank{rank}" / "checkpoint.pt", resume=resume)
        model = NoisyGaussian()
        fit(model, DataSplit(x), run, Hooks(epoch_end=stop, progress=False))
        torch.save(model.state_dict(), folder / f"{name}-final{rank}.pt")

    torch.manual_seed(0)
    train("whole")
    torch.manual_seed(0)
    try:
        train("cut", stop_after=2)
        sys.exit("not stopped")
    except Terminated:
        print("terminated after epoch 2", flush=True)
    torch.manual_seed(12345)  # whatever the process did next must not matter
    train("cut", resume=True)
    dist.destroy_process_group()
''')


def two_ranks(tmp) -> list[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp / "rank.py"
    path = os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])
    script.write_text(RANK_SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONPATH": path,
                                   "OMP_NUM_THREADS": "1", "RANK": str(r), "WORLD_SIZE": "2",
                                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
             for r in (0, 1)]
    codes = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        codes.append(p.returncode)
        print(out)
    return codes


def test_every_rank_resumes_from_rank_0s_checkpoint(tmp_path):
    assert two_ranks(tmp_path) == [0, 0]
    assert (tmp_path / "cut" / "rank0" / "checkpoint.pt").exists()
    assert not (tmp_path / "cut" / "rank1" / "checkpoint.pt").exists()  # only rank 0 writes
    want = torch.load(tmp_path / "whole-final0.pt", weights_only=True)
    assert torch.load(tmp_path / "cut" / "rank0" / "checkpoint.pt", weights_only=True)["step"] == 16  # all 4 epochs
    for rank in (0, 1):
        got = torch.load(tmp_path / f"cut-final{rank}.pt", weights_only=True)
        for name in want:
            assert torch.equal(got[name], want[name]), (rank, name)
