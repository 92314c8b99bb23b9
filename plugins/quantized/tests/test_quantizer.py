"""VectorQuantizer against hand-computed answers."""
import math

import torch
from dgmbench_quantized.quantizer import VectorQuantizer, perplexity


def quantizer(codebook, **kw):
    vq = VectorQuantizer(len(codebook), codebook.shape[1], **kw)
    vq.embed.data.copy_(codebook)
    if vq.ema:
        vq.embed_sum.copy_(codebook)  # N = 1 for every code at the start
    return vq


def test_nearest_code_is_chosen():
    book = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    vq = quantizer(book).eval()
    z = torch.tensor([[0.1, -0.2], [0.9, 0.3], [0.2, 1.7], [0.6, 0.0], [0.4, 0.0]])
    out = vq(z)
    assert out.codes.tolist() == [0, 1, 2, 1, 0]
    torch.testing.assert_close(out.quantized, book[[0, 1, 2, 1, 0]])
    # the channel axis of a feature map is the vector axis
    fmap = z.t().reshape(1, 2, 5, 1)
    assert vq(fmap).codes.flatten().tolist() == [0, 1, 2, 1, 0]
    torch.testing.assert_close(vq(fmap).quantized, book[[0, 1, 2, 1, 0]].t().reshape(1, 2, 5, 1))


def test_straight_through_gradient_equals_upstream_gradient():
    vq = quantizer(torch.randn(8, 3, generator=torch.Generator().manual_seed(0))).eval()
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    upstream = torch.randn(2, 3, 4, 4)
    (vq(z).quantized * upstream).sum().backward()
    torch.testing.assert_close(z.grad, upstream)


def test_commitment_loss_is_beta_times_distance():
    book = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    vq = quantizer(book, commitment=0.25).eval()
    z = torch.tensor([[0.2, 0.0], [1.0, 0.6]])
    expected = 0.25 * ((0.2 ** 2) + 0.4 ** 2) / 4
    assert math.isclose(float(vq(z).loss), expected, rel_tol=1e-6)


def test_one_ema_update_equals_its_closed_form():
    book = torch.tensor([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])
    g, eps = 0.9, 1e-5
    vq = quantizer(book, decay=g, eps=eps).train()
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 5.0]])  # codes 0, 0, 1; code 2 unused
    vq(z)
    N = torch.tensor([g * 1 + (1 - g) * 2, g * 1 + (1 - g) * 1, g * 1])
    m = torch.stack([g * book[0] + (1 - g) * torch.tensor([1.0, 1.0]),
                     g * book[1] + (1 - g) * torch.tensor([3.0, 5.0]),
                     g * book[2]])
    total = N.sum()
    smoothed = (N + eps) / (total + 3 * eps) * total
    torch.testing.assert_close(vq.cluster_size, N)
    torch.testing.assert_close(vq.embed, m / smoothed[:, None])


def test_dead_codes_restart_at_batch_vectors():
    book = torch.tensor([[0.0, 0.0], [100.0, 100.0]])
    vq = quantizer(book, decay=0.5, restart_below=0.6).train()
    z = torch.randn(16, 2) * 0.1 + 5.0  # everything goes to code 0; code 1's count halves to 0.5 < 0.6
    vq(z)
    assert int(vq.restarts) == 1
    assert any(torch.equal(vq.embed[1], row) for row in z)


def test_perplexity_of_a_uniform_assignment_is_K():
    K = 7
    assert math.isclose(float(perplexity(torch.arange(K).repeat(5), K)), K, rel_tol=1e-6)
    assert math.isclose(float(perplexity(torch.zeros(20, dtype=torch.long), K)), 1.0, rel_tol=1e-6)
    vq = quantizer(torch.eye(K)).eval()
    assert math.isclose(float(vq(torch.eye(K).repeat(3, 1)).perplexity), K, rel_tol=1e-6)


def test_usage_is_logged_every_n_calls():
    vq = VectorQuantizer(4, 2, log_every=3).train()
    for _ in range(7):
        vq(torch.randn(8, 2))
    assert [entry[0] for entry in vq.usage_log] == [3, 6]
    assert all(1.0 <= entry[1] <= 4.0 + 1e-6 for entry in vq.usage_log)


def test_one_training_step_uses_the_codebook_from_before_its_ema_update():
    """Sonnet's VectorQuantizerEMA and FQ-GAN's Quantize look the codes up, then update the codebook:
    the step's output and commitment term come from the pre-step codebook. Low decay (FQ-GAN's 0.8)
    moves the codebook far in one step, so a lookup after the update would differ a lot."""
    g = torch.Generator().manual_seed(0)
    book = torch.randn(6, 3, generator=g)
    vq = quantizer(book, decay=0.8).train()
    z = torch.randn(4, 3, 5, 5, generator=g) * 2
    out = vq(z)
    flat = z.movedim(1, -1).reshape(-1, 3)
    codes = torch.cdist(flat, book, compute_mode="donot_use_mm_for_euclid_dist").argmin(1)
    expected = book[codes].view(4, 5, 5, 3).movedim(-1, 1)
    assert torch.equal(out.codes.flatten(), codes)
    torch.testing.assert_close(out.quantized, expected)
    torch.testing.assert_close(out.loss, 0.25 * ((z - expected) ** 2).mean())
    assert (vq.embed - book).abs().max() > 0.1, "the EMA update did move the codebook"
