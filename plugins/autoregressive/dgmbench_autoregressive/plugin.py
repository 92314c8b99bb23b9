"""The plugin module (light: no torch import): every autoregressive image model of this
distribution - PixelCNN, Gated PixelCNN, PixelCNN++, PixelRNN (Row LSTM, Diagonal BiLSTM) and
PixelSNAIL. The networks are imported only when a model is built."""
from dgmbench import ModelSpec, hookimpl

CAPS = ["log_prob", "sample"]
MODELS = "dgmbench_autoregressive.models"
PIXELRNN_CONFIG = {"size": str, "cached_sampling": bool, "layers": int, "hidden": int, "first_kernel": int,
                   "out_hidden": int}


@hookimpl
def dgmbench_models():
    return [
        ModelSpec(
            "pixelcnn", f"{MODELS}.pixelcnn:PixelCNN.build", CAPS,
            description="PixelCNN: masked convolutions, residual blocks, L-way softmax per sub-pixel",
            defaults={"size": "auto", "cached_sampling": True},
            config={"size": str, "cached_sampling": bool, "hidden": int, "blocks": int, "first_kernel": int,
                    "kernel": int, "out_hidden": int},
            paper="van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (PixelCNN)"),
        ModelSpec(
            "gated-pixelcnn", f"{MODELS}.gated_pixelcnn:GatedPixelCNN.build", CAPS,
            description="Gated PixelCNN: vertical/horizontal stacks, gated activations, optional class conditioning",
            defaults={"size": "auto", "conditional": False, "label_dropout": 0.2, "cached_sampling": True},
            config={"size": str, "conditional": bool, "label_dropout": float, "cached_sampling": bool,
                    "hidden": int, "layers": int, "first_kernel": int, "kernel": int, "out_hidden": int},
            paper="van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders"),
        ModelSpec(
            "pixelcnnpp", f"{MODELS}.pixelcnnpp:PixelCNNpp.build", CAPS,
            description="PixelCNN++: discretized logistic mixture, multi-scale gated ResNet, cached row-cropped "
                        "sampler",
            defaults={"size": "auto", "scales": 3, "cached_sampling": True},
            config={"size": str, "scales": int, "cached_sampling": bool, "filters": int, "resnets": int,
                    "mixtures": int, "dropout": float},
            paper="Salimans, Karpathy, Chen & Kingma 2017, PixelCNN++"),
        ModelSpec(
            "row-lstm", f"{MODELS}.pixelrnn:PixelRNN.build_row_lstm", CAPS,
            description="PixelRNN Row LSTM: row-by-row LSTM layers with residual connections, L-way softmax",
            defaults={"size": "auto", "cached_sampling": True}, config=PIXELRNN_CONFIG,
            paper="van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (Row LSTM)"),
        ModelSpec(
            "diagonal-bilstm", f"{MODELS}.pixelrnn:PixelRNN.build_diagonal_bilstm", CAPS,
            description="PixelRNN Diagonal BiLSTM: skewed two-direction diagonal LSTMs, full receptive field",
            defaults={"size": "auto", "cached_sampling": True}, config=PIXELRNN_CONFIG,
            paper="van den Oord, Kalchbrenner & Kavukcuoglu 2016, Pixel Recurrent Neural Networks (Diagonal BiLSTM)"),
        ModelSpec(
            "pixelsnail", f"{MODELS}.pixelsnail:PixelSNAIL.build", CAPS,
            description="PixelSNAIL: causal convolutions + causal self-attention, discretized logistic mixture",
            defaults={"size": "auto", "cached_sampling": True},
            config={"size": str, "cached_sampling": bool, "filters": int, "resnets": int, "blocks": int,
                    "key": int, "mixtures": int, "dropout": float},
            paper="Chen, Mishra, Rohaninejad & Abbeel 2018, PixelSNAIL: An Improved Autoregressive Generative Model"),
    ]
