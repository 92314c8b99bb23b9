"""Plugin ``pixelcnnpp``: PixelCNN++ (Salimans et al. 2017): discretized logistic mixture with
linear RGB dependence, down/up-sampling with shortcut connections, gated ResNet blocks, dropout."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "pixelcnnpp", "dgmbench_autoregressive.models.pixelcnnpp:PixelCNNpp.build", capabilities=["log_prob", "sample"],
        description="PixelCNN++: discretized logistic mixture, multi-scale gated ResNet, cached row-cropped sampler",
        defaults={"size": "auto", "scales": 3, "cached_sampling": True},
        config={"size": str, "scales": int, "cached_sampling": bool, "filters": int, "resnets": int, "mixtures": int,
                "dropout": float},
        paper="Salimans, Karpathy, Chen & Kingma 2017, PixelCNN++")]
