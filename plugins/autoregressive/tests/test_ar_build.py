"""Registration, size presets chosen from the dataset shape, and light entry points."""
import subprocess
import sys

import pytest
from ar_helpers import dataset
from dgmbench_autoregressive.models.gated_pixelcnn import GatedPixelCNN
from dgmbench_autoregressive.models.pixelcnn import PixelCNN
from dgmbench_autoregressive.models.pixelcnnpp import PixelCNNpp, num_scales


def test_registered_with_the_names_the_cifar_protocol_uses():
    from dgmbench.plugins import load_registry

    reg = load_registry()
    for name in ("pixelcnn", "gated-pixelcnn", "pixelcnnpp", "row-lstm", "diagonal-bilstm", "pixelsnail"):
        spec = reg.model_for(name)
        assert sorted(spec.capabilities) == ["log_prob", "sample"]
        assert spec.plugin == "autoregressive"


def test_the_plugin_module_does_not_import_torch():
    code = "import sys, dgmbench_autoregressive.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("shape,size", [((1, 8, 8), "tiny"), ((1, 28, 28), "small"), ((3, 32, 32), "medium")])
@pytest.mark.parametrize("cls", [PixelCNN, GatedPixelCNN, PixelCNNpp])
def test_size_follows_the_dataset_shape_and_explicit_keys_win(cls, shape, size):
    model = cls.build(dataset(shape, 256, 10), {})
    assert model.config["size"] == size
    key = "filters" if cls is PixelCNNpp else "hidden"
    assert cls.build(dataset(shape, 256), {"size": "tiny", key: 9}).config[key] == 9
    assert model.likelihood == "discrete" and model.levels == 256


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="size"):
        PixelCNN.build(dataset((1, 8, 8), 17), {"size": "huge"})
    with pytest.raises(ValueError, match="discrete levels"):
        PixelCNN.build(dataset((2,), None), {})


def test_pixelcnnpp_scales_follow_divisibility():
    assert [num_scales(h, h, 3) for h in (32, 28, 8, 6, 2, 7)] == [3, 3, 3, 2, 2, 1]
    assert PixelCNNpp.build(dataset((3, 32, 32), 256), {}).row_multiple == 4


@pytest.mark.parametrize("name", ["pixelcnn", "gated-pixelcnn", "pixelcnnpp"])
def test_train_step_under_bf16_autocast_gives_a_float32_finite_loss(name):
    """The harness trains in bf16 autocast on CUDA; the likelihood is computed in float32."""
    import torch
    from ar_helpers import build

    model = build(name, (3, 4, 4), 256).float().train()
    x = torch.randint(256, (4, 3, 4, 4)).float() / 255
    opt = model.configure_optimizers(1e-3)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    with autocast():
        loss = model.loss(x)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    logs = model.train_step(x, None, opt, 0, autocast)
    assert torch.isfinite(logs["loss"])
