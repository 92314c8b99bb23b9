"""Pixel-by-pixel sampling: shape, range, the levels grid, and cached == naive."""
import pytest
import torch
from ar_helpers import MODELS, build


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape,levels", [((1, 8, 8), 17), ((3, 4, 4), 256), ((1, 4, 4), 2)])
def test_samples_are_images_on_the_levels_grid(name, shape, levels):
    model = build(name, shape, levels).float()
    model.train()  # sample() must switch dropout off and restore the mode
    x = model.sample(5)
    assert model.training
    assert x.shape == (5, *shape) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    k = x * (levels - 1)
    torch.testing.assert_close(k, k.round(), rtol=0, atol=1e-4)
    assert torch.isfinite(model.log_prob(x)).all()


@pytest.mark.parametrize("name", MODELS)
def test_cached_and_naive_samplers_draw_the_same_images(name):
    """The cached sampler only crops rows the current pixel cannot see: same seed, same images."""
    model = build(name, (3, 8, 8), 17)
    draws = []
    for cached in (True, False):
        torch.manual_seed(3)
        draws.append(model.sample(3, cached=cached))
    assert torch.equal(draws[0], draws[1])
    assert draws[0].unique().numel() > 3  # not a constant image


def test_conditional_gated_pixelcnn_samples_given_classes_and_scores_with_the_null_class():
    model = build("gated-pixelcnn", (1, 4, 4), 17, num_classes=10, conditional=True)
    x = model.sample(4, labels=torch.tensor([0, 1, 2, 3]))
    assert x.shape == (4, 1, 4, 4)
    assert model.sample(2).shape == (2, 1, 4, 4)  # random classes
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        null = model.log_prob(x)
        given = model.log_prob_given(x, labels=y)
        null_explicit = model.log_prob_given(x, labels=torch.full((4,), 10))
    torch.testing.assert_close(null, null_explicit)
    assert not torch.allclose(null, given)  # the class embedding changes the distribution
    loss = model.loss(x, y)
    loss.backward()
    assert model.blocks[0].cond.weight.grad[:4].abs().sum() > 0


def test_conditional_needs_labels_in_the_dataset():
    with pytest.raises(ValueError, match="num_classes"):
        build("gated-pixelcnn", (1, 4, 4), 17, num_classes=None, conditional=True)
