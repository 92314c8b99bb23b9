"""FQ-GAN: the discriminator's features are quantized to its dictionary, and D's loss has the FQ term."""
import contextlib

import torch
from dgmbench_quantized.models.fqgan import FQDCGAN, FQStyleGAN, QuantizedBlock
from dgmbench_quantized.models.stylegan import StyleGAN
from quantized_helpers import images


def test_fq_dcgan_quantizes_the_chosen_block_and_adds_the_fq_loss():
    torch.manual_seed(0)
    model = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4})
    blocks = list(model.D.blocks)
    assert [isinstance(b, QuantizedBlock) for b in blocks] == [True, False]  # [-2] of 16 -> 8 -> 4
    model.eval()
    q = blocks[0](torch.rand(4, 1, 16, 16) * 2 - 1)
    book = blocks[0].quantizer.embed
    flat = q.movedim(1, -1).reshape(-1, book.shape[1])
    # exact distances: cdist's matrix-product shortcut (used for > 25 rows) leaves ~1e-4 of rounding
    exact = torch.cdist(flat, book, compute_mode="donot_use_mm_for_euclid_dist")
    assert exact.min(1).values.max() < 1e-5, "features must be dictionary entries"
    model.train()
    opts = model.configure_optimizers(2e-4)
    logs = model.train_step(torch.rand(8, 1, 16, 16), None, opts, 0, contextlib.nullcontext)
    assert float(logs["fq"]) > 0 and 1 <= float(logs["fq_perplexity"]) <= 4
    assert int(blocks[0].quantizer.calls) > 0, "the dictionary is updated by EMA in training"


def test_fq_stylegan_is_stylegan_with_a_quantized_discriminator():
    cfg = dict(z_dim=8, w_dim=8, mapping_layers=2, fmap_base=64, fmap_max=8, width=8, fq_codes=4)
    torch.manual_seed(0)
    fq = FQStyleGAN.build(images((3, 16, 16)), cfg)
    torch.manual_seed(0)
    plain = StyleGAN.build(images((3, 16, 16)), cfg)
    assert sum(isinstance(b, QuantizedBlock) for b in fq.D.blocks) == 1
    assert not any(isinstance(b, QuantizedBlock) for b in plain.D.blocks)
    torch.testing.assert_close(fq.G.const, plain.G.const)
    logs = fq.train_step(torch.rand(8, 3, 16, 16), None, fq.configure_optimizers(2e-4), 0, contextlib.nullcontext)
    assert {"fq", "r1", "fq_perplexity"} <= set(logs)
