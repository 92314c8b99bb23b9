"""VQ-VAE-2: decoding from codes, the priors' raster-order masks, samples, the bound."""
import pytest
import torch
from dgmbench_quantized.models.prior import CodePrior
from dgmbench_quantized.models.vqvae2 import VQVAE2
from quantized_helpers import images, rand_images

TINY = dict(channels=16, res_blocks=1, embed_dim=8, codes=16, prior_hidden=8, prior_layers=3, vqvae_steps=2)


def tiny(shape=(1, 8, 8)):
    torch.manual_seed(0)
    return VQVAE2.build(images(shape), TINY)


def test_decoder_reproduces_a_batch_from_its_codes():
    model = tiny((3, 16, 16)).eval()
    x = rand_images(4, (3, 16, 16))
    c_t, c_b = model.code_maps(x)
    assert c_t.shape == (4, 4, 4) and c_b.shape == (4, 8, 8)
    assert int(c_t.max()) < 16 and int(c_b.max()) < 16
    torch.testing.assert_close(model.decode_codes(c_t, c_b), model.reconstruct(x))
    # the codes are what the quantizers picked: re-encoding the looked-up vectors gives the same codes
    assert torch.equal(model.vq_b.nearest(model.vq_b.lookup(c_b).movedim(1, -1).reshape(-1, 8)), c_b.flatten())


@pytest.mark.parametrize("conditional", [False, True])
def test_prior_never_sees_the_current_or_later_codes(conditional):
    torch.manual_seed(0)
    H, W, K = 4, 5, 6
    prior = CodePrior(K, (H, W), hidden=6, layers=3, first_kernel=3, cond_num=K if conditional else 0).double()
    e = torch.randn(2, 6, H, W, dtype=torch.float64, requires_grad=True)
    cond = prior.condition(torch.randint(K, (2, 2, 3))) if conditional else None
    out = prior.logits_embedded(e, None if cond is None else cond.double())
    order = torch.arange(H * W).view(H, W)
    for i in range(H):
        for j in range(W):
            (g,) = torch.autograd.grad(out[0, :, i, j].sum(), e, retain_graph=True)
            g = g[0].abs().sum(0)
            assert g[order >= order[i, j]].max() == 0, f"code ({i},{j}) sees itself or a later code"
            if i * W + j > 0:
                assert g[order < order[i, j]].max() > 0
            (g_other,) = torch.autograd.grad(out[0, :, i, j].sum(), e, retain_graph=True)
            assert g_other[1].abs().max() == 0, "examples of a batch must not interact"


def test_samples_have_the_datasets_shape_and_range():
    model = tiny((3, 8, 8))
    x = model.sample(5)
    assert x.shape == (5, 3, 8, 8)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_training_runs_both_stages_and_the_bound_is_finite():
    model = tiny()
    opts = model.configure_optimizers(1e-3)
    x = rand_images(8, (1, 8, 8))
    import contextlib
    before = [p.clone() for p in model.prior_parameters()]
    logs = [model.train_step(x, None, opts, step, contextlib.nullcontext) for step in range(4)]
    assert "recon_mse" in logs[0] and "prior_top_nats" in logs[3]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.prior_parameters()))
    calls = int(model.vq_t.calls)
    model.train_step(x, None, opts, 5, contextlib.nullcontext)
    assert int(model.vq_t.calls) == calls, "stage 2 must not update the codebooks"
    from types import SimpleNamespace

    from dgmbench_quantized.metrics import training_stages
    assert training_stages(SimpleNamespace(model=model)) == {"vqvae_steps": 2.0, "prior_steps": 3.0}
    model.eval()
    elbo = model.elbo(x)
    assert elbo.shape == (8,) and torch.isfinite(elbo).all()


def test_image_size_must_halve():
    with pytest.raises(ValueError, match="halve"):
        VQVAE2.build(images((1, 12, 12)), {"bottom_halvings": 2})
