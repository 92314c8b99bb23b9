"""Checks that need CUDA; they skip cleanly without it."""
import pytest
import torch

from dgmbench.runner import execute
from dgmbench.specs import RunRecord

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("model", ["realnvp", "pixelcnn", "gaussian"])
def test_smoke_run_on_cuda_with_bf16_autocast(model, tmp_path):
    out = execute(RunRecord(model=model, dataset="digits", budget="smoke", device="cuda"),
                  results=tmp_path / "r.sqlite", progress=False)
    assert out.status == "ok" and 0 < out.metrics["bpd"] < 20


def test_iwae_nll_on_cuda_matches_cpu(shared_data, tmp_path):
    """The adaptive GPU chunking gives the CPU's estimate (same weights, same seed)."""
    cpu = execute(RunRecord(model="iwae", dataset="mnist-binary", budget="smoke", device="cpu",
                            data_root=str(shared_data)), results=tmp_path / "r.sqlite", progress=False)
    ck = cpu.out_dir / "checkpoint.pt"
    from dgmbench.runner import evaluate_checkpoint

    gpu = evaluate_checkpoint(ck, ["nll"], results=tmp_path / "r.sqlite", device="cuda", data_root=str(shared_data),
                              budget="smoke")
    assert gpu.metrics["nll"] == pytest.approx(cpu.metrics["nll"], abs=1.0)
