"""Plugin ``pixelcnn``: PixelCNN (van den Oord et al. 2016a): masked convolutions (A, then B)
with R < G < B channel masking and an L-way softmax per sub-pixel; exact discrete log P(x)."""
from dgmbench import ModelSpec, hookimpl


@hookimpl
def dgmbench_models():
    return [ModelSpec(
        "pixelcnn", "dgmbench_autoregressive.models.pixelcnn:PixelCNN.build", capabilities=["log_prob", "sample"],
        description="PixelCNN: masked convolutions, residual blocks, L-way softmax per sub-pixel",
        defaults={"size": "auto", "cached_sampling": True},
        config={"size": str, "cached_sampling": bool, "hidden": int, "blocks": int, "first_kernel": int, "kernel": int,
                "out_hidden": int},
        paper="van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (PixelCNN)")]
