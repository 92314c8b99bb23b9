"""The fqgan and vqvae2 protocols: cells name installed models with valid config, and the caption's
claim counts FQ pairs correctly."""
import math

import pandas as pd
from dgmbench_quantized.protocols import fq_lowers_fid, protocols

from dgmbench.plugins import load_registry


def test_every_cell_names_an_installed_model_with_known_config_keys():
    reg = load_registry()
    for protocol in protocols():
        for cell in protocol.cells:
            spec = reg.model_for(cell.model)
            spec.check_config(cell.config, f"{protocol.name} {cell.key}")
            reg.dataset(cell.dataset)


def test_fq_claim_counts_pairs_per_feature_network():
    df = pd.DataFrame({"cell": ["mnist-dcgan", "mnist-fq-dcgan", "cifar10-stylegan", "cifar10-fq-stylegan", None],
                       "fid [domain] (ours)": [10.0, 8.0, 5.0, 6.0, math.nan],
                       "fid [inception] (ours)": [None, None, None, None, 12.0]})
    lines = fq_lowers_fid(df)
    assert len(lines) == 1
    assert "holds in 1 of 2" in lines[0] and "cifar10-fq-stylegan 6.00 >= cifar10-stylegan 5.00" in lines[0]
    assert fq_lowers_fid(pd.DataFrame({"cell": ["x"]})) == ["Feature quantization lowers FID: not measured."]
