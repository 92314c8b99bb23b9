"""Each shared invertible layer: inverse(forward(x)) = x and logdet = brute-force log|det J|."""
import pytest
import torch
from dgmbench_flows import layers as L
from flow_helpers import brute_force_logdet, randomize

IMG, VEC = (2, 4, 4), (6,)


def _cases():
    yield "checkerboard-affine", IMG, lambda: L.Coupling(L.checkerboard_mask(IMG, 1), L.ResNet(2, 4, 8, 1), channels=2)
    yield "channel-affine", IMG, lambda: L.Coupling(L.channel_mask(IMG, 0), L.ResNet(2, 4, 8, 1, weight_norm=True),
                                                    channels=2)
    yield "glow-coupling", IMG, lambda: L.Coupling(L.channel_mask(IMG, 1), L.GlowNet(2, 4, 8), scale="sigmoid")
    yield "additive", VEC, lambda: L.Coupling(L.checkerboard_mask(VEC, 0), L.MLP(6, 6, 16), kind="additive")
    yield "vector-affine", VEC, lambda: L.Coupling(L.checkerboard_mask(VEC, 1), L.MLP(6, 12, 16))
    yield "actnorm-img", IMG, lambda: L.ActNorm(IMG)
    yield "actnorm-vec", VEC, lambda: L.ActNorm(VEC)
    yield "invconv-img", IMG, lambda: L.InvertibleLinearLU(IMG)
    yield "invlinear-vec", VEC, lambda: L.InvertibleLinearLU(VEC)
    yield "diagonal-scale", IMG, lambda: L.DiagonalScale(IMG, shift=True)
    yield "logit", IMG, lambda: L.LogitTransform(0.05)
    yield "squeeze", IMG, lambda: L.Squeeze()
    yield "factor-out", IMG, lambda: L.FactorOut(L.Coupling(L.checkerboard_mask((1, 4, 4), 0), L.ResNet(1, 2, 8, 1),
                                                            channels=1))
    yield "planar", VEC, lambda: L.Planar(6)


@pytest.mark.parametrize("name,shape,make", list(_cases()), ids=[c[0] for c in _cases()])
def test_inverse_and_logdet(name, shape, make):
    torch.manual_seed(0)
    layer = randomize(make().double(), 0.1)
    x = torch.rand(3, *shape, dtype=torch.float64) * 0.9 + 0.05
    layer.train()
    layer(torch.rand(8, *shape, dtype=torch.float64))  # actnorm: data-dependent init
    layer.eval()
    z, logdet = layer(x)
    assert z.shape[0] == 3 and z[0].numel() == x[0].numel() and logdet.shape == (3,)
    torch.testing.assert_close(layer.inverse(z), x, atol=1e-10, rtol=0)
    torch.testing.assert_close(logdet, brute_force_logdet(layer, x), atol=1e-8, rtol=1e-8)


def test_squeeze_is_a_2x2_space_to_channel_permutation():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    s = L.squeeze2x2(x)
    assert s.shape == (1, 4, 2, 2)
    assert s[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]  # the top-left 2x2 block
    assert torch.equal(L.unsqueeze2x2(s), x)


def test_masks_alternate():
    m0, m1 = L.checkerboard_mask((1, 4, 4), 0), L.checkerboard_mask((1, 4, 4), 1)
    assert torch.equal(m0 + m1, torch.ones(1, 4, 4)) and m0.sum() == 8
    c = L.channel_mask((4, 2, 2), 0)
    assert c.view(-1).tolist() == [1, 1, 0, 0]


def test_planar_constraint_and_inverse_for_hostile_u():
    """u_hat keeps w^T u_hat > -1 even when w^T u << -1, and the numerical inverse still holds."""
    layer = L.Planar(2).double()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([1.0, 0.5]))
        layer.u.copy_(torch.tensor([-5.0, -3.0]))
        layer.b.fill_(0.3)
    u_hat = L.planar_u_hat(layer.u, layer.w)
    assert (layer.w @ u_hat).item() > -1
    x = torch.randn(50, 2, dtype=torch.float64) * 3
    z, _ = layer(x)
    torch.testing.assert_close(layer.inverse(z), x, atol=1e-9, rtol=0)


def test_actnorm_init_is_data_dependent_and_only_once():
    a = L.ActNorm((3, 2, 2))
    x = torch.randn(64, 3, 2, 2) * torch.tensor([1.0, 2.0, 5.0]).view(1, 3, 1, 1) + 4
    z, _ = a(x)
    assert bool(a.initialized)
    torch.testing.assert_close(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    loc = a.loc.detach().clone()
    a(x * 10)
    assert torch.equal(a.loc.detach(), loc)
