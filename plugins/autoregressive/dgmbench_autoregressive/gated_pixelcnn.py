"""Plugin ``gated-pixelcnn``: Gated PixelCNN (van den Oord et al. 2016b): vertical and horizontal
stacks (no blind spot), tanh * sigmoid gates, optional class conditioning (``conditional: true``;
``log_prob`` then scores the learned null class, i.e. the unconditional model)."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "gated-pixelcnn", "dgmbench_autoregressive.models.gated_pixelcnn:GatedPixelCNN.build",
        capabilities=["log_prob", "sample"],
        description="Gated PixelCNN: vertical/horizontal stacks, gated activations, optional class conditioning",
        defaults={"size": "auto", "conditional": False, "label_dropout": 0.2, "cached_sampling": True},
        config={"size": str, "conditional": bool, "label_dropout": float, "cached_sampling": bool, "hidden": int,
                "layers": int, "first_kernel": int, "kernel": int, "out_hidden": int},
        paper="van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders")]
