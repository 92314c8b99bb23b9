"""StyleGAN: style mixing seen through hooks, truncation at psi = 0, noise only through its scales."""
import torch
from dgmbench_quantized.models.stylegan import StyleGAN
from quantized_helpers import images

TINY = dict(z_dim=8, w_dim=8, mapping_layers=2, fmap_base=64, fmap_max=8, width=8)


def tiny(**config):
    torch.manual_seed(0)
    return StyleGAN.build(images((3, 16, 16)), {**TINY, **config})


def test_style_mixing_feeds_two_ws_either_side_of_the_crossover():
    G = tiny().G.train()
    mapped, seen = [], {}
    G.mapping.register_forward_hook(lambda m, inp, out: mapped.append(out.detach()))
    for i, layer in enumerate(G.layers):
        layer.adain.style.register_forward_hook(lambda m, inp, out, i=i: seen.__setitem__(i, inp[0].detach()))
    z = torch.randn(4, 8)
    crossover = 3
    G(z, crossover=crossover)
    assert len(mapped) == 2 and not torch.allclose(mapped[0], mapped[1])
    assert G.last_crossover == crossover and G.num_layers == 6
    for i in range(G.num_layers):
        expected = mapped[0] if i < crossover else mapped[1]
        torch.testing.assert_close(seen[i], expected)
    # and the training-time draw mixes at a random crossover with probability mixing_prob = 1
    G.mixing_prob = 1.0
    mapped.clear()
    G(z)
    assert len(mapped) == 2 and 1 <= G.last_crossover < G.num_layers


def test_psi_zero_gives_the_same_image_for_every_z():
    model = tiny(truncation_psi=0.0)
    G = model.G
    G.train()
    for _ in range(5):  # track a mean w
        G.styles(torch.randn(16, 8))
    G.eval()
    assert G.w_avg.abs().sum() > 0
    noise = G.make_noise(1, torch.Generator().manual_seed(3))
    noise = [n.expand(6, -1, -1, -1) for n in noise]
    x = G(torch.randn(6, 8) * 3, noise=noise)
    for k in range(1, 6):
        torch.testing.assert_close(x[k], x[0])
    G.truncation_psi = 1.0  # without truncation the images differ
    x = G(torch.randn(6, 8), noise=noise)
    assert (x[1] - x[0]).abs().max() > 1e-4


def test_noise_acts_only_through_its_learned_scales():
    G = tiny().G.eval()
    z = torch.randn(3, 8)
    a, b = G.make_noise(3, torch.Generator().manual_seed(1)), G.make_noise(3, torch.Generator().manual_seed(2))
    torch.testing.assert_close(G(z, noise=a), G(z, noise=b))  # scales start at 0
    with torch.no_grad():
        for layer in G.layers:
            layer.noise.scale.fill_(0.5)
    assert (G(z, noise=a) - G(z, noise=b)).abs().max() > 1e-3
    with torch.no_grad():
        G.layers[2].noise.scale.zero_()
    changed = []
    for i in range(G.num_layers):  # changing one layer's noise matters only where its scale is not 0
        c = list(a)
        c[i] = b[i]
        changed.append(bool((G(z, noise=a) - G(z, noise=c)).abs().max() > 1e-6))
    assert changed == [i != 2 for i in range(G.num_layers)]


def test_samples_have_the_datasets_shape_and_range_and_training_runs():
    import contextlib

    model = tiny()
    opts = model.configure_optimizers(2e-4)
    x = torch.rand(8, 3, 16, 16)
    logs = model.train_step(x, None, opts, 0, contextlib.nullcontext)
    assert {"loss_d", "loss_g", "r1"} <= set(logs)
    s = model.sample(5)
    assert s.shape == (5, 3, 16, 16) and float(s.min()) >= 0 and float(s.max()) <= 1


def test_defaults_are_the_authors_sizes_and_the_cpu_configuration_is_named():
    """NVlabs/stylegan training/networks_stylegan.py: G_mapping 8 x 512, mapping_lrmul 0.01, use_wscale."""
    from dgmbench_quantized.models.stylegan import DEFAULTS, EqualLinear
    from dgmbench_quantized.protocols import STYLEGAN_CPU as CPU_SIZES

    assert (DEFAULTS["z_dim"], DEFAULTS["w_dim"], DEFAULTS["mapping_layers"]) == (512, 512, 8)
    assert (DEFAULTS["fmap_base"], DEFAULTS["fmap_max"]) == (8192, 512)
    assert DEFAULTS["equalized_lr"] is True and DEFAULTS["mapping_lr_mult"] == 0.01
    torch.manual_seed(0)
    G = StyleGAN.build(images((3, 8, 8)), {}).G  # 8x8: two resolutions, cheap to build at full width
    linears = [m for m in G.mapping.modules() if isinstance(m, EqualLinear)]
    assert [tuple(m.weight.shape) for m in linears] == [(512, 512)] * 8
    assert G.const.shape[1] == 512
    small = StyleGAN.build(images((3, 8, 8)), CPU_SIZES).G
    assert len([m for m in small.mapping.modules() if isinstance(m, EqualLinear)]) == 4


def test_equalized_learning_rate_scales_at_runtime_by_hes_constant():
    from dgmbench_quantized.models.stylegan import EqualConv2d, EqualLinear

    torch.manual_seed(0)
    G = StyleGAN.build(images((3, 16, 16)), {**TINY, "z_dim": 256, "w_dim": 256, "fmap_base": 1024,
                                             "fmap_max": 64}).G
    for m in G.modules():
        if isinstance(m, (EqualLinear, EqualConv2d)):
            fan_in = m.weight[0].numel()
            lrmul = m.lrmul if isinstance(m, EqualLinear) else 1.0
            gain = 1.0 if (m is G.to_rgb or any(m is layer.adain.style for layer in G.layers)) else 2 ** 0.5
            assert abs(m.scale - lrmul * gain / fan_in ** 0.5) < 1e-12
            # stored N(0, 1 / lrmul^2); used weights N(0, gain^2 / fan_in): He's init
            raw, used = float(m.weight.detach().std()), float(m.effective_weight().detach().std())
            n = m.weight.numel()
            tol = 4 / (2 * n) ** 0.5 + 0.02
            assert abs(raw * lrmul - 1) < tol, (type(m).__name__, raw)
            assert abs(used / (gain / fan_in ** 0.5) - 1) < tol, (type(m).__name__, used)
    assert all(m.lrmul == 0.01 for m in G.mapping.modules() if isinstance(m, EqualLinear))
    # the mapping's runtime scale is sqrt(2 / fan_in) times its learning-rate multiplier
    first = G.mapping.net[0]
    assert abs(first.scale - 0.01 * (2 / 256) ** 0.5) < 1e-12


def test_the_mappings_learning_rate_multiplier_reaches_the_used_weights():
    """Adam's first step moves each stored weight by about lr; the used weights move by lr times
    the runtime scale: 0.01 sqrt(2 / fan_in) in the mapping, sqrt(2 / fan_in) in a synthesis conv."""
    import contextlib

    torch.manual_seed(0)
    model = tiny()
    G = model.G
    watched = {"mapping": G.mapping.net[0], "synthesis": G.layers[1].conv}
    before = {k: (m.effective_weight().detach().clone(), m) for k, m in watched.items()}
    bias_before = G.mapping.net[0].bias.detach() * 0.01
    lr = 1e-3
    opts = model.configure_optimizers(lr)
    model.train_step(torch.rand(8, 3, 16, 16), None, opts, 0, contextlib.nullcontext)
    for name, (w0, m) in before.items():
        fan_in = m.weight[0].numel()
        step = float((m.effective_weight().detach() - w0).abs().max())
        expected = lr * (0.01 if name == "mapping" else 1.0) * (2 / fan_in) ** 0.5
        assert abs(step / expected - 1) < 0.01, (name, step, expected)  # float32 rounding of stored weights near 100
    bias_step = float((G.mapping.net[0].bias.detach() * 0.01 - bias_before).abs().max())
    assert abs(bias_step / (lr * 0.01) - 1) < 0.01
