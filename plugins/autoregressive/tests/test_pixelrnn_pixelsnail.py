"""PixelRNN's layer masks and receptive fields, the skew, and PixelSNAIL's attention reach."""
import torch
from ar_helpers import build
from dgmbench_autoregressive.layers import DiagonalBiLSTM, RowLSTM, channel_groups, skew, unskew
from dgmbench_autoregressive.models.pixelsnail import causal_attention
from test_ar_ordering import previous_pixels_unseen


def test_row_lstm_input_to_state_mask_is_k_by_1_mask_b():
    """Taps j-1 (all groups) and j (groups <= g); the tap j+1 (a later pixel) closed."""
    layer = RowLSTM(6, 3, data_channels=3)
    mask = layer.input_to_state.mask  # (4h, in, 1, 3)
    assert mask.shape == (12, 6, 1, 3)
    assert mask[..., 0].all() and not mask[..., 2].any()
    g_out, g_in = channel_groups(3, 3).repeat(4), channel_groups(6, 3)
    torch.testing.assert_close(mask[:, :, 0, 1], (g_in[None] <= g_out[:, None]).float())


def test_diagonal_bilstm_input_to_state_masks_are_1x1_mask_b():
    layer = DiagonalBiLSTM(6, 3, data_channels=3)
    g_out, g_in = channel_groups(3, 3).repeat(4), channel_groups(6, 3)
    for direction in layer.input_to_state:  # left-to-right, right-to-left
        assert direction.mask.shape == (12, 6, 1, 1)
        torch.testing.assert_close(direction.mask[:, :, 0, 0], (g_in[None] <= g_out[:, None]).float())
    assert layer.state_to_state.kernel_size == (2,)  # the states at (i-1, j) and (i, j-1)
    assert layer.state_to_state.groups == 2  # each direction its own weights


def test_skew_puts_diagonals_in_columns_and_unskew_inverts_it():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    s = skew(x)
    assert s.shape == (1, 1, 3, 6)
    assert s[0, 0, 2, 2].item() == x[0, 0, 2, 0].item() and s[0, 0, 1, 2].item() == x[0, 0, 1, 1].item()
    assert torch.equal(unskew(s, 4), x)


def test_diagonal_bilstm_sees_every_earlier_pixel_with_one_layer_row_lstm_does_not():
    """Diagonal BiLSTM: every earlier pixel with one layer, but for one: the last pixel of the
    previous row, x(i-1, W-1), enters the network only through the mask-A features of positions
    at or after it, i.e. (i, j') with j' >= W-1-k//2 (k the first kernel), so pixels (i, j) left
    of that never see it, at any depth. One Row LSTM layer (k = 3) reaches only a triangle:
    (4, 0) and (4, 1) are out of reach of pixel (4, 4)."""
    shape, k = (1, 5, 5), 3
    diag = build("diagonal-bilstm", shape, layers=1, first_kernel=k)
    for i in range(5):
        for j in range(5):
            expected = [(i - 1, 4)] if i > 0 and j < 4 - k // 2 else []
            assert previous_pixels_unseen(diag, shape, i, j) == expected, (i, j)
    row = build("row-lstm", shape, layers=1, first_kernel=3)
    blind = previous_pixels_unseen(row, shape, 4, 4)
    assert (4, 0) in blind and (4, 1) in blind, blind
    assert (3, 4) not in blind and (4, 3) not in blind


def test_pixelsnail_attention_reads_every_earlier_pixel_in_one_block():
    shape = (1, 5, 5)
    snail = build("pixelsnail", shape, blocks=1)
    for i in range(5):
        for j in range(5):
            assert previous_pixels_unseen(snail, shape, i, j) == [], (i, j)


def test_causal_attention_is_strict_and_the_first_position_reads_nothing():
    torch.manual_seed(0)
    q, k = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    v = torch.randn(2, 5, 3, 3, requires_grad=True)
    out = causal_attention(q, k, v)
    assert torch.equal(out[:, :, 0, 0], torch.zeros(2, 5))
    (g,) = torch.autograd.grad(out[0, :, 1, 1].sum(), v)  # position 4 reads positions 0..3 only
    seen = g[0].abs().sum(0).flatten() > 0
    assert seen.tolist() == [True] * 4 + [False] * 5
