"""Layers shared by the autoregressive models.

Ordering. Sub-pixel (i, j, c) may depend only on pixels before (i, j) in raster order and, within
pixel (i, j), on channels c' < c (R < G < B). Feature maps carry the same ordering: feature
channel ``k`` of ``n`` belongs to the colour group ``g(k) = floor(k C / n)`` (contiguous blocks;
the data channels themselves have ``g(c) = c``, and the C*L output logits ``c*L + l`` have
``g = c``). A masked convolution lets group ``g_out`` see, at the centre tap, input groups
``g_in < g_out`` (mask type A, first layer: the sub-pixel must not see itself) or
``g_in <= g_out`` (type B, later layers) - van den Oord et al. 2016a, Pixel RNN paper, Sec. 3.4 and
Fig. 2 - and every tap strictly before the centre in raster order.

* :class:`MaskedConv2d`, :class:`ResidualBlock` - PixelCNN (van den Oord et al. 2016a).
* :class:`GatedBlock` - the vertical/horizontal stacks of Gated PixelCNN (van den Oord et al.
  2016b, Fig. 2): no blind spot, ``y = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)``.
* :class:`DownShiftedConv2d`, :class:`DownRightShiftedConv2d`, their transposed versions,
  :class:`GatedResnet`, :func:`concat_elu` - PixelCNN++ (Salimans et al. 2017, Sec. 2.3-2.5).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

# -- ordering helpers ---------------------------------------------------------------------------

def channel_groups(n: int, data_channels: int) -> torch.Tensor:
    """Colour group of each of ``n`` feature channels: g(k) = floor(k C / n)."""
    return torch.arange(n) * data_channels // n


def gated_groups(n: int, data_channels: int) -> torch.Tensor:
    """Groups of a 2n-channel pre-activation split as [tanh half, sigmoid half] by :func:`gate`."""
    g = channel_groups(n, data_channels)
    return torch.cat([g, g])


def causal_mask(kernel: tuple[int, int], center: tuple[int, int], in_groups: torch.Tensor,
                out_groups: torch.Tensor, mask_type: str) -> torch.Tensor:
    """(out, in, kh, kw) mask: taps before ``center`` in raster order are open; the centre tap is
    open from group g_in to g_out iff g_in < g_out (type "A") or g_in <= g_out (type "B")."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask type must be 'A' or 'B', not {mask_type!r}")
    (kh, kw), (ci, cj) = kernel, center
    mask = torch.zeros(len(out_groups), len(in_groups), kh, kw)
    mask[:, :, :ci, :] = 1
    mask[:, :, ci, :cj] = 1
    less = in_groups[None, :] < out_groups[:, None]
    equal = in_groups[None, :] == out_groups[:, None]
    mask[:, :, ci, cj] = (less | equal).float() if mask_type == "B" else less.float()
    return mask


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """float32 for half / bfloat16 outputs (autocast), unchanged otherwise (float32, float64)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (zero row on top): row i now holds row i - 1."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def right_shift(x: torch.Tensor) -> torch.Tensor:
    """Move every column one right (zero column on the left)."""
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    """tanh(a) * sigmoid(b) for x = [a, b] along channels (van den Oord et al. 2016b, Eq. 2)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    """elu([x, -x]) along channels (Salimans et al. 2017, Sec. 2.5)."""
    return F.elu(torch.cat([x, -x], dim=1))


# -- PixelCNN -----------------------------------------------------------------------------------

class MaskedConv2d(nn.Conv2d):
    """A convolution whose output at (i, j) in group g sees only the inputs before it (see the
    module docstring). The kernel is stored only where it can be nonzero: a k x k PixelCNN kernel
    is kept as its top (k//2 + 1) x k rows, with the centre tap at ``center`` = bottom middle;
    a 1 x n horizontal kernel (Gated PixelCNN) has ``center`` = its last column. Padding keeps the
    spatial size, so the output at row i depends on input rows <= i only (cropping the input's
    bottom rows leaves the top outputs unchanged - the cached samplers rely on this)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int | tuple[int, int], mask_type: str,
                 data_channels: int, center: tuple[int, int] | None = None, in_groups: torch.Tensor | None = None,
                 out_groups: torch.Tensor | None = None, bias: bool = True):
        if isinstance(kernel, int):
            kernel, center = (kernel // 2 + 1, kernel), (kernel // 2, kernel // 2)
        kh, kw = kernel
        center = center if center is not None else (kh - 1, kw // 2)
        super().__init__(in_channels, out_channels, kernel, bias=bias)
        ci, cj = center
        self.pad = (cj, kw - 1 - cj, ci, kh - 1 - ci)  # left, right, top, bottom
        in_groups = channel_groups(in_channels, data_channels) if in_groups is None else in_groups
        out_groups = channel_groups(out_channels, data_channels) if out_groups is None else out_groups
        self.register_buffer("mask", causal_mask(kernel, center, in_groups, out_groups, mask_type), persistent=False)
        self.mask_type = mask_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, self.pad), self.weight * self.mask, self.bias)


class ResidualBlock(nn.Module):
    """PixelCNN residual block (van den Oord et al. 2016a, Fig. 5):
    x + Conv1x1_B(ReLU(Conv_kxk_B(ReLU(Conv1x1_B(ReLU(x)))))), 2h -> h -> h -> 2h channels."""

    def __init__(self, hidden: int, kernel: int, data_channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(), MaskedConv2d(2 * hidden, hidden, (1, 1), "B", data_channels, center=(0, 0)),
            nn.ReLU(), MaskedConv2d(hidden, hidden, kernel, "B", data_channels),
            nn.ReLU(), MaskedConv2d(hidden, 2 * hidden, (1, 1), "B", data_channels, center=(0, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def masked_head(in_channels: int, hidden: int, data_channels: int, levels: int) -> nn.Sequential:
    """ReLU - 1x1 conv (B) - ReLU - 1x1 conv (B) to C*L logits, channel c*L + l in group c."""
    return nn.Sequential(
        nn.ReLU(), MaskedConv2d(in_channels, hidden, (1, 1), "B", data_channels, center=(0, 0)),
        nn.ReLU(), MaskedConv2d(hidden, data_channels * levels, (1, 1), "B", data_channels, center=(0, 0)))


# -- Gated PixelCNN -----------------------------------------------------------------------------

class GatedBlock(nn.Module):
    """One layer of Gated PixelCNN's two stacks (van den Oord et al. 2016b, Sec. 2.1-2.2, Fig. 2).

    Vertical stack: a (k//2 + 1) x k convolution over rows <= i (all columns within reach); its
    output at row i never reaches the horizontal stack at row i - only ``down_shift``-ed, so the
    horizontal stack sees whole rows above it: no blind spot. Horizontal stack: a 1 x (k//2 + 1)
    masked convolution over columns <= j of row i (type A in the first layer), plus a 1x1 of the
    shifted vertical pre-activation::

        v' = gate(V * v + c_v),   h' = h + W_1x1 gate(H * h + U_1x1 down_shift(V * v) + c_h)

    with c_v, c_h learned per-class biases (class conditioning, Eq. 4; ``None`` = unconditional).
    The first layer has no residual connection (its input is the image)."""

    def __init__(self, in_channels: int, hidden: int, kernel: int, data_channels: int, first: bool = False,
                 num_labels: int | None = None):
        super().__init__()
        self.first, self.kernel = first, kernel
        C = data_channels
        self.v_conv = nn.Conv2d(in_channels, 2 * hidden, (kernel // 2 + 1, kernel))
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        in_groups = torch.arange(C) if first else channel_groups(in_channels, C)
        self.h_conv = MaskedConv2d(in_channels, 2 * hidden, (1, kernel // 2 + 1), "A" if first else "B", C,
                                   center=(0, kernel // 2), in_groups=in_groups, out_groups=gated_groups(hidden, C))
        self.h_out = MaskedConv2d(hidden, hidden, (1, 1), "B", C, center=(0, 0))
        self.cond = nn.Embedding(num_labels, 4 * hidden) if num_labels else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, labels: torch.Tensor | None = None):
        k = self.kernel
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))
        h_pre = self.h_conv(h) + self.v_to_h(down_shift(v_pre))
        if self.cond is not None and labels is not None:
            c_v, c_h = self.cond(labels)[:, :, None, None].chunk(2, dim=1)
            v_pre, h_pre = v_pre + c_v, h_pre + c_h
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), h_new if self.first else h + h_new


# -- PixelCNN++ ---------------------------------------------------------------------------------

def _wn(module: nn.Module, dim: int = 0) -> nn.Module:
    """Weight normalization w = g v / ||v|| (Salimans & Kingma 2016), as PixelCNN++ uses."""
    return weight_norm(module, dim=dim)


class DownShiftedConv2d(nn.Module):
    """kh x kw convolution over rows i-kh+1..i, columns j-kw//2..j+kw//2 (zero padding on top and
    both sides, none below): the output at row i depends on input rows <= i.
    With ``stride`` 2 it halves the resolution (PixelCNN++'s downsampling, Sec. 2.3)."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(2, 3), stride: int = 1):
        super().__init__()
        kh, kw = kernel
        self.pad = (kw // 2, kw // 2, kh - 1, 0)
        self.conv = _wn(nn.Conv2d(in_channels, out_channels, kernel, stride=stride))

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class DownRightShiftedConv2d(nn.Module):
    """kh x kw convolution over rows i-kh+1..i, columns j-kw+1..j (padding top and left)."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(2, 2), stride: int = 1):
        super().__init__()
        kh, kw = kernel
        self.pad = (kw - 1, 0, kh - 1, 0)
        self.conv = _wn(nn.Conv2d(in_channels, out_channels, kernel, stride=stride))

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class DownShiftedDeconv2d(nn.Module):
    """Stride-2 transposed convolution, cropped so that output row t depends on input rows
    <= t // 2 (PixelCNN++'s upsampling): output size exactly twice the input size."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(2, 3)):
        super().__init__()
        self.kernel = kernel
        self.deconv = _wn(nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=2, output_padding=1), dim=1)

    def forward(self, x):
        kh, kw = self.kernel
        y = self.deconv(x)
        return y[:, :, :y.shape[2] - kh + 1, kw // 2:y.shape[3] - kw // 2]


class DownRightShiftedDeconv2d(DownShiftedDeconv2d):
    """As :class:`DownShiftedDeconv2d`, also causal in columns: output column t sees inputs <= t // 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(2, 2)):
        super().__init__(in_channels, out_channels, kernel)

    def forward(self, x):
        kh, kw = self.kernel
        y = self.deconv(x)
        return y[:, :, :y.shape[2] - kh + 1, :y.shape[3] - kw + 1]


class GatedResnet(nn.Module):
    """PixelCNN++ gated residual block (Salimans et al. 2017, Sec. 2.5)::

        c = conv(concat_elu(x)) [+ nin(concat_elu(a))]      (a: shortcut input, if any)
        [p, q] = conv(dropout(concat_elu(c)))
        out = x + p * sigmoid(q)

    ``conv`` is a down-shifted (vertical stream) or down-right-shifted (horizontal stream) 2-D
    convolution, or :class:`Nin` (PixelSNAIL's 1x1 blocks); ``skip`` is how many nf-channel shortcut
    tensors are concatenated into ``a`` (``skip_channels``: the channels of ``a`` when it is not a
    multiple of nf)."""

    def __init__(self, channels: int, conv: type, skip: int = 0, dropout: float = 0.0,
                 skip_channels: int | None = None):
        super().__init__()
        self.conv_in = conv(2 * channels, channels)
        skip_channels = skip * channels if skip_channels is None else skip_channels
        self.nin_skip = _wn(nn.Conv2d(2 * skip_channels, channels, 1)) if skip_channels else None
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(2 * channels, 2 * channels)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        c = self.conv_in(concat_elu(x))
        if a is not None:
            c = c + self.nin_skip(concat_elu(a))
        p, q = self.conv_out(self.dropout(concat_elu(c))).chunk(2, dim=1)
        return x + p * torch.sigmoid(q)


class Nin(nn.Module):
    """A weight-normalized 1x1 convolution ("network in network", the released PixelCNN++ and
    PixelSNAIL code's ``nin``): position-wise, so it keeps every causal order."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = _wn(nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x):
        return self.conv(x)


# -- PixelRNN -----------------------------------------------------------------------------------

def lstm_groups(hidden: int, data_channels: int) -> torch.Tensor:
    """Colour groups of the 4h gate pre-activations [o, f, i, g], each h channels in C groups."""
    return channel_groups(hidden, data_channels).repeat(4)


def lstm_update(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[o, f, i, g] = [sigma, sigma, sigma, tanh](gates); c' = f c + i g; h' = o tanh(c')
    (van den Oord et al. 2016a, Eq. 3). Element-wise, so every state channel keeps its colour group."""
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTM(nn.Module):
    """Row LSTM layer (van den Oord et al. 2016a, Sec. 3.1): rows top to bottom, a whole row at a time.

    Input-to-state: a k x 1 convolution along the row with mask B (taps j-1 and j, the centre only
    from colour groups <= g), computed for the whole map at once. State-to-state: an unmasked k x 1
    convolution of the previous row's hidden state (row i-1 is entirely in the past). The receptive
    field is a triangle above the pixel (it misses the far left of the current row)."""

    def __init__(self, in_channels: int, hidden: int, data_channels: int, kernel: int = 3):
        super().__init__()
        C = data_channels
        self.input_to_state = MaskedConv2d(in_channels, 4 * hidden, (1, kernel), "B", C, center=(0, kernel // 2),
                                           out_groups=lstm_groups(hidden, C))
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, kernel, padding=kernel // 2)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        pre = self.input_to_state(x)
        h = c = pre.new_zeros(B, self.hidden, W)
        rows = []
        for pre_i in pre.unbind(2):  # unbind: one backward op, not one zero-filled map per row
            h, c = lstm_update(pre_i + self.state_to_state(h), c)
            rows.append(h)
        return torch.stack(rows, dim=2)


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i shifted right by i (Sec. 3.2, Fig. 3), so each
    diagonal of the image becomes a column. Vectorized: each row padded with H zeros, the rows
    laid end to end and re-cut at width W + H - 1, so that row i starts i places further right."""
    B, C, H, W = x.shape
    flat = F.pad(x, (0, H)).flatten(2)                       # rows of length W + H, end to end
    return flat[..., :H * (W + H - 1)].view(B, C, H, W + H - 1)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of :func:`skew` (re-cut at width W + H, keep the first W columns)."""
    B, C, H, _ = x.shape
    return F.pad(x.flatten(2), (0, H)).view(B, C, H, width + H)[..., :width]


class DiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM layer (van den Oord et al. 2016a, Sec. 3.2): two diagonal LSTMs, left-to-right
    and right-to-left (the latter run on the mirrored map). Each skews its input map (row i shifted
    right by i) and processes it column by column: the state at (i, j) comes from the states at
    (i-1, j) and (i, j-1) (a 2 x 1 convolution over the previous skewed column) and from the input
    at (i, j) (a 1 x 1 convolution with mask B). The right-to-left output is shifted down one row
    before the two are added, so that the state at (i, j) never sees pixels right of j in row i.

    Both directions run in one loop over the columns, their separate weights as two groups of one
    convolution (half the sequential steps of two loops)."""

    def __init__(self, in_channels: int, hidden: int, data_channels: int):
        super().__init__()
        C = data_channels
        self.input_to_state = nn.ModuleList([
            MaskedConv2d(in_channels, 4 * hidden, (1, 1), "B", C, center=(0, 0), out_groups=lstm_groups(hidden, C))
            for _ in range(2)])  # left-to-right, right-to-left
        self.state_to_state = nn.Conv1d(2 * hidden, 8 * hidden, 2, groups=2)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        h_ = self.hidden
        pre = torch.cat([skew(self.input_to_state[0](x)), skew(self.input_to_state[1](x.flip(3)))], dim=1)
        h = c = pre.new_zeros(B * 2, h_, H)
        cols = []
        for pre_k in pre.unbind(3):  # unbind: one backward op, not one zero-filled map per column
            gates = pre_k + self.state_to_state(F.pad(h.view(B, 2 * h_, H), (1, 0)))  # rows i-1 and i
            h, c = lstm_update(gates.view(B * 2, 4 * h_, H), c)
            cols.append(h.view(B, 2 * h_, H))
        out = unskew(torch.stack(cols, dim=3), W)
        forward, backward = out[:, :h_], out[:, h_:].flip(3)
        return forward + down_shift(backward)


class ResidualLSTM(nn.Module):
    """A PixelRNN layer with its residual connection (Sec. 3.3, Fig. 5): the 2h-feature input goes
    through the LSTM layer (h states), a 1 x 1 mask-B convolution brings it back to 2h, added to the input."""

    def __init__(self, layer: nn.Module, hidden: int, data_channels: int):
        super().__init__()
        self.layer = layer
        self.up = MaskedConv2d(hidden, 2 * hidden, (1, 1), "B", data_channels, center=(0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.layer(x))
