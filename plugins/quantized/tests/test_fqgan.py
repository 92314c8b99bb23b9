"""FQ-GAN: the authors' defaults, the FQ term in D's and in G's loss, and what passes on through D."""
import contextlib

import pytest
import torch
from dgmbench_quantized.models.fqgan import FQDCGAN, FQStyleGAN, QuantizedBlock
from dgmbench_quantized.models.stylegan import StyleGAN
from quantized_helpers import images

TINY_STYLE = dict(z_dim=8, w_dim=8, mapping_layers=2, fmap_base=64, fmap_max=8, width=8, fq_codes=4)


def test_fq_dcgan_defaults_are_the_authors_cifar10_script():
    """FQ-BigGAN/scripts/launch_C10.sh (YangNaruto/FQ-GAN bc43d457): --discrete_layer 0123
    --commitment 1.0 --dict_size 10 --dict_decay 0.8; the quantization loss also in G's loss."""
    model = FQDCGAN.build(images((3, 32, 32)), {"width": 8, "z_dim": 8})
    assert all(isinstance(b, QuantizedBlock) for b in model.D.blocks) and len(model.D.blocks) == 3
    for b in model.D.blocks:
        vq = b.quantizer
        assert (vq.num_codes, vq.decay, vq.commitment, vq.restart_below) == (1024, 0.8, 1.0, 0.0)
        assert not b.pass_quantized
    assert model.config["fq_generator_loss"] is True


def test_fq_stylegan_defaults_are_the_authors_run_training():
    """FQ-StyleGAN/run_training.py: --discrete_layer 45 (inputs of 32 and 16 pixels) --commitment_cost
    0.25 --decay 0.8, dictionaries of 2^7 at those resolutions."""
    cfg = {k: v for k, v in TINY_STYLE.items() if k != "fq_codes"}
    model = FQStyleGAN.build(images((3, 32, 32)), cfg)
    assert [isinstance(b, QuantizedBlock) for b in model.D.blocks] == [True, True, False]
    assert {(b.quantizer.num_codes, b.quantizer.decay, b.quantizer.commitment)
            for b in model.D.blocks if isinstance(b, QuantizedBlock)} == {(128, 0.8, 0.25)}
    mnist = FQStyleGAN.build(images((1, 28, 28)), cfg)
    assert [isinstance(b, QuantizedBlock) for b in mnist.D.blocks] == [True, False]


def spy_losses(model):
    """Record every FQ loss a quantized block produces."""
    seen = []
    for b in model.fq_blocks:
        b.quantizer.register_forward_hook(lambda m, inp, out: seen.append(out.loss.detach()))
    return seen


def test_generator_loss_includes_the_quantization_term():
    torch.manual_seed(0)
    model = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4})
    seen = spy_losses(model)
    loss, terms = model.g_loss(torch.rand(8, 1, 16, 16) * 2 - 1, None)
    assert set(terms) == {"adv_g", "fq"}
    assert len(seen) == 2  # one pass of D over the fakes, two quantized blocks
    torch.testing.assert_close(terms["fq"].detach(), torch.stack(seen).sum())
    torch.testing.assert_close(loss, terms["adv_g"] + terms["fq"])
    _, terms = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4,
                                                   "fq_generator_loss": False}).g_loss(torch.rand(8, 1, 16, 16), None)
    assert set(terms) == {"adv_g"}


def test_discriminator_loss_adds_the_real_and_the_fake_pass():
    torch.manual_seed(0)
    model = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4})
    seen = spy_losses(model)
    loss, terms = model.d_loss(torch.rand(8, 1, 16, 16) * 2 - 1, None)
    assert len(seen) == 4  # real and fake pass, two blocks each
    torch.testing.assert_close(terms["fq"].detach(), torch.stack(seen).sum())
    torch.testing.assert_close(loss, terms["adv_d"] + terms["fq"])


def test_by_default_d_passes_its_features_on_unquantized_as_the_authors_code():
    torch.manual_seed(0)
    model = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4}).eval()
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    h = x
    for b in model.D.blocks:
        h = b.block(h)
    torch.testing.assert_close(model.D(x), model.D.head(h.flatten(1)))


def test_with_fq_pass_quantized_the_features_are_dictionary_entries():
    torch.manual_seed(0)
    model = FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_codes": 4, "fq_layers": [-2],
                                                "fq_pass_quantized": True})
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
    assert int(blocks[0].quantizer.calls) == 3, "the dictionary is updated by EMA in D's two passes and G's one"


@pytest.mark.parametrize("layers", ["some", [5], []])
def test_bad_fq_layers_are_refused(layers):
    with pytest.raises(ValueError, match="fq_layers"):
        FQDCGAN.build(images((1, 16, 16)), {"width": 8, "z_dim": 8, "fq_layers": layers})


def test_fq_stylegan_is_stylegan_with_a_quantized_discriminator():
    torch.manual_seed(0)
    fq = FQStyleGAN.build(images((3, 16, 16)), TINY_STYLE)
    torch.manual_seed(0)
    plain = StyleGAN.build(images((3, 16, 16)), TINY_STYLE)
    assert sum(isinstance(b, QuantizedBlock) for b in fq.D.blocks) == 1
    assert not any(isinstance(b, QuantizedBlock) for b in plain.D.blocks)
    torch.testing.assert_close(fq.G.const, plain.G.const)
    logs = fq.train_step(torch.rand(8, 3, 16, 16), None, fq.configure_optimizers(2e-4), 0, contextlib.nullcontext)
    assert {"fq", "r1", "fq_perplexity"} <= set(logs)
    assert int(fq.fq_blocks[0].quantizer.calls) == 3, "R1's extra pass over the reals leaves the dictionary alone"
