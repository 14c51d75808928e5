import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, GuidedGradCam, LayerGradCam, Saliency
from captum.testing.helpers.basic_models import BasicModel_ConvNet_One_Conv
from torch import nn

from hwlib.attribution import (
    both_on_own_half,
    cascading_randomization,
    clamped_move,
    class_visualization,
    class_visualization_step,
    composite_pairs,
    fooling_image,
    grad_cam,
    guided_backprop,
    guided_grad_cam,
    map_correlations,
    outer_ring_fraction,
    own_half_shares,
    random_direction_flips,
    randomization_correlations,
    randomization_ends,
    rank_correlations,
    saliency_map,
    side_by_side,
    upsample,
)
from hwlib.check.fixtures import tiny_cnn
from hwlib.models import small_cnn


def images(seed, n=3, device="cpu"):
    return torch.rand(
        n,
        3,
        8,
        8,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
    ).to(device)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saliency_is_max_abs_input_gradient_and_matches_captum(seed, device):
    model, x = tiny_cnn(seed, device=device), images(seed, device=device)
    target = [0, 3, 4]
    ours = saliency_map(model, x, target)
    assert ours.shape == (3, 8, 8)
    xg = x.clone().requires_grad_(True)
    model(xg).gather(
        1, torch.tensor(target, device=device)[:, None]
    ).sum().backward()
    torch.testing.assert_close(
        ours, xg.grad.abs().amax(1)
    )  # the definition, by autograd
    captum = (
        Saliency(model).attribute(x, target=target).amax(1)
    )  # abs=True by default
    torch.testing.assert_close(ours, captum)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_guided_backprop_matches_captum(seed, device):
    model, x = tiny_cnn(seed, device=device), images(seed, device=device)
    torch.testing.assert_close(
        guided_backprop(model, x, 2),
        GuidedBackprop(model).attribute(x, target=2),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grad_cam_definition_and_captum(seed, device):
    model, x = tiny_cnn(seed, device=device), images(seed, device=device)
    layer = model[5]  # the last convolution, 4x4 maps
    ours = grad_cam(model, layer, x, [1, 2, 3])
    assert ours.shape == (3, 4, 4)
    captum = LayerGradCam(model, layer).attribute(
        x, target=[1, 2, 3], relu_attributions=True
    )[:, 0]
    torch.testing.assert_close(ours, captum)
    # the definition, written out: activations and their gradient by autograd
    feats = model[:6](x)
    feats.retain_grad()
    model[6:](feats).gather(
        1, torch.tensor([[1], [2], [3]], device=device)
    ).sum().backward()
    alpha = feats.grad.mean((2, 3), keepdim=True)
    torch.testing.assert_close(
        ours, torch.relu((alpha * feats).sum(1)).detach()
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_guided_grad_cam_matches_captum_with_nearest_upsampling(seed):
    model, x = tiny_cnn(seed), images(seed)
    ours = guided_grad_cam(model, model[5], x, 4, mode="nearest")
    torch.testing.assert_close(
        ours, GuidedGradCam(model, model[5]).attribute(x, target=4)
    )


@pytest.mark.parametrize("size", [(8, 8), (5, 11), (3, 2)])
def test_upsample_is_f_interpolate_without_aligned_corners(size):
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 4, 3, generator=g, dtype=torch.float64)
    for mode, kwargs in (
        ("bilinear", {"align_corners": False}),
        ("bicubic", {"align_corners": False}),
        ("nearest", {}),
    ):
        expected = F.interpolate(maps[:, None], size, mode=mode, **kwargs)
        ours = upsample(maps, size, mode=mode)
        assert ours.shape == (2, *size)
        torch.testing.assert_close(ours, expected[:, 0], rtol=0, atol=1e-12)
    torch.testing.assert_close(
        upsample(maps, size),  # bilinear by default
        F.interpolate(maps[:, None], size, mode="bilinear")[:, 0],
    )
    # align_corners=True is another map (the test can fail)
    aligned = F.interpolate(
        maps[:, None], (8, 8), mode="bilinear", align_corners=True
    )[:, 0]
    assert not torch.allclose(upsample(maps, (8, 8)), aligned)


@pytest.mark.parametrize("seed", [0, 1])
def test_guided_grad_cam_default_is_bilinear_upsampling(seed):
    """Captum's guided backprop times Captum's layer Grad-CAM, upsampled by
    F.interpolate (bilinear, align_corners=False)."""
    model, x = tiny_cnn(seed), images(seed)
    target = [4, 0, 2]
    cam = LayerGradCam(model, model[5]).attribute(
        x, target=target, relu_attributions=True
    )
    cam = F.interpolate(cam, x.shape[-2:], mode="bilinear")
    expected = GuidedBackprop(model).attribute(x, target=target) * cam
    torch.testing.assert_close(
        guided_grad_cam(model, model[5], x, target), expected
    )


def test_captum_reference_values_on_its_one_conv_model():
    """Captum's own expected values for BasicModel_ConvNet_One_Conv
    (from its test suite)."""
    net = BasicModel_ConvNet_One_Conv()
    inp = torch.arange(16, dtype=torch.float).view(1, 1, 4, 4)
    torch.testing.assert_close(
        grad_cam(net, net.conv1, inp, 0)[0],
        torch.tensor([[11.25, 13.5], [20.25, 22.5]]),
    )
    torch.testing.assert_close(
        grad_cam(net, net.relu1, inp, 0)[0],
        torch.tensor([[0.0, 4.0], [28.0, 32.5]]),
    )
    gb = torch.tensor(
        [[0.0, 1, 1, 1], [1, 3, 3, 2], [1, 3, 3, 2], [1, 2, 2, 1]]
    )
    torch.testing.assert_close(guided_backprop(net, inp, 0)[0, 0], gb)
    ggc = torch.tensor(
        [[0.0, 0, 4, 4], [0, 0, 12, 8], [28, 84, 97.5, 65], [28, 56, 65, 32.5]]
    )
    torch.testing.assert_close(
        guided_grad_cam(net, net.relu1, inp, 0, mode="nearest")[0, 0], ggc
    )


def test_model_mode_and_parameters_are_left_unchanged():
    model, x = tiny_cnn(0), images(0)
    model.train()
    model[0].weight.requires_grad_(False)
    before = [p.detach().clone() for p in model.parameters()]
    flags = [p.requires_grad for p in model.parameters()]
    (
        saliency_map(model, x, 0),
        guided_backprop(model, x, 0),
        grad_cam(model, model[5], x, 0),
    )
    fooling_image(model, x, 1, num_iterations=3)
    class_visualization(model, 0, image_shape=(3, 8, 8), num_iterations=3)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    assert not any(
        m._backward_hooks or m._forward_hooks for m in model.modules()
    )  # hooks removed


def test_fooling_image_reaches_the_target_and_stays_in_range():
    model, x = tiny_cnn(3), images(3, n=4)
    target = (
        model(x).topk(2, dim=1).indices[:, 1]
    )  # the runner-up class of each image
    result = fooling_image(model, x, target, lr=0.05, num_iterations=500)
    assert all(result.fooled)
    assert torch.equal(model(result.image).argmax(1), target)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert all(0 < i <= 500 for i in result.iterations) and all(
        v > 0 for v in result.linf
    )


def test_class_visualization_raises_the_target_score():
    model = tiny_cnn(4)
    g = torch.Generator().manual_seed(0)
    start = class_visualization(
        model, 2, image_shape=(3, 8, 8), num_iterations=0, generator=g
    )
    image = class_visualization(
        model,
        2,
        image_shape=(3, 8, 8),
        num_iterations=30,
        generator=torch.Generator().manual_seed(0),
    )
    assert image.shape == (3, 8, 8) and image.min() >= 0 and image.max() <= 1
    assert model(image[None])[0, 2] > model(start[None])[0, 2]


def test_bad_inputs():
    model, x = tiny_cnn(0), images(0)
    with pytest.raises(
        ValueError, match=r"target must be an int in \[0, 5\) or 3"
    ):
        saliency_map(model, x, [0, 1])
    with pytest.raises(ValueError, match=r"batch of images \(N, C, H, W\)"):
        saliency_map(model, x[0], 0)
    with pytest.raises(ValueError, match="nn.ReLU modules; found none"):
        guided_backprop(
            nn.Sequential(nn.Flatten(), nn.Linear(192, 2)).double(), x, 0
        )
    with pytest.raises(ValueError, match="inplace=False"):
        guided_backprop(
            nn.Sequential(
                nn.Flatten(), nn.Linear(192, 2), nn.ReLU(inplace=True)
            ).double(),
            x,
            0,
        )
    with pytest.raises(ValueError, match="was not called"):
        grad_cam(model, nn.Conv2d(1, 1, 1), x, 0)
    assert upsample(torch.ones(2, 4, 4), (8, 8)).shape == (2, 8, 8)


@pytest.mark.parametrize(
    "target, error, words",
    [
        (-1, ValueError, "got -1"),
        (5, ValueError, "got 5"),
        (10, ValueError, "the model has 5 classes"),
        (1.7, TypeError, "1.7"),
        (True, TypeError, "a bool"),
        ([0, 1, 1.5], TypeError, "float"),
        (torch.tensor([1.0, 2.0, 0.0]), TypeError, "float"),
        (torch.tensor([True, False, True]), TypeError, "bool"),
        ([0, 1, 7], ValueError, "got 7"),
        ("cat", TypeError, "cat"),
    ],
)
def test_bad_targets_are_refused_by_name_value_and_range(target, error, words):
    model, x = tiny_cnn(0), images(0)
    for fn in (
        lambda: saliency_map(model, x, target),
        lambda: grad_cam(model, model[5], x, target),
        lambda: fooling_image(model, x, target, num_iterations=1),
        lambda: class_visualization_step(model, x, target, lr=0.1, l2_reg=0.0),
        lambda: class_visualization(
            model, target, image_shape=(3, 8, 8), num_iterations=0
        ),
    ):
        with pytest.raises(error, match="target") as info:
            fn()
        assert words in str(info.value)
        if error is ValueError:
            assert "[0, 5)" in str(info.value)


NAN = float("nan")


def _model():
    return tiny_cnn(0)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("saliency: NaN images", lambda: saliency_map(_model(), torch.full((1, 3, 8, 8), NAN, dtype=torch.float64), 0),
        ValueError, "x must be finite, got 192 NaN/inf entries"),
    ("upsample: a million squared", lambda: upsample(torch.ones(1, 2, 2), (10**6, 10**6)),
        ValueError, "the upsampled maps would have 1000000000000 entries"),
    ("visualization: 10**5-pixel sides", lambda: class_visualization(_model(), 0, image_shape=(3, 10**5, 10**5)),
        ValueError, "each image would have 30000000000 entries"),
    ("step: one image, not a batch", lambda: class_visualization_step(_model(), images(0)[0], 1, lr=0.1, l2_reg=0.0),
        ValueError, "image must be a float batch of images (N, C, H, W), got torch.float64 of shape (3, 8, 8)"),
    ("step: image not a tensor", lambda: class_visualization_step(_model(), [[0.0]], 1, lr=0.1, l2_reg=0.0),
        TypeError, "image must be a tensor of images (N, C, H, W), got list"),
    ("saliency: x not a tensor", lambda: saliency_map(_model(), "x", 1),
        TypeError, "x must be a tensor of images (N, C, H, W), got str"),
    ("step: lr 0", lambda: class_visualization_step(_model(), images(0), 1, lr=0, l2_reg=0.0),
        ValueError, "lr must be a finite number in (0, inf), got 0.0"),
    ("visualization: float target", lambda: class_visualization(_model(), 1.5, image_shape=(3, 8, 8)),
        TypeError, "target must be an int in [0, 5) (one image) or a nonempty sequence of such ints (one image each), got 1.5"),
    ("visualization: no target", lambda: class_visualization(_model(), [], image_shape=(3, 8, 8)),
        ValueError, "target must be an int in [0, 5) (one image) or a nonempty sequence of such ints (one image each), got shape (0,)"),
    ("visualization: class out of range", lambda: class_visualization(_model(), [1, 5], image_shape=(3, 8, 8)),
        ValueError, "the model has 5 classes, got 5"),
    ("visualization: image_shape of 2 sizes", lambda: class_visualization(_model(), 1, image_shape=(8, 8)),
        TypeError, "image_shape must be (C, H, W), three ints >= 1, got (8, 8)"),
    ("visualization: float image size", lambda: class_visualization(_model(), 1, image_shape=(3, 8.0, 8)),
        TypeError, "image_shape (H) must be an int >= 1, got 8.0"),
    ("visualization: lr negative", lambda: class_visualization(_model(), 1, image_shape=(3, 8, 8), lr=-1.0),
        ValueError, "lr must be a finite number in (0, inf), got -1.0"),
    ("correlations: reference out of range", lambda: map_correlations(torch.rand(2, 3, 4, 4), [0, 3]),
        ValueError, "reference must be an int in [0, 3) or 2 such ints (one per image): maps has K = 3 maps per image, got 3"),
    ("correlations: float reference", lambda: map_correlations(torch.rand(2, 3, 4, 4), [0, 1.5]),
        TypeError, "reference must be an int in [0, 3) or 2 such ints"),
    ("correlations: one reference too few", lambda: map_correlations(torch.rand(2, 3, 4, 4), [0]),
        ValueError, "reference must be an int in [0, 3) or 2 such ints (one per image), got shape (1,)"),
    ("correlations: maps of 3 axes", lambda: map_correlations(torch.rand(2, 4, 4), 0),
        ValueError, "maps must be a tensor (N, K, h, w), got shape (2, 4, 4)"),
    ("outer ring: maps not a tensor", lambda: outer_ring_fraction([[[1.0]]], 1),
        TypeError, "maps must be a tensor (N, H, W), got list"),
    ("outer ring: negative maps", lambda: outer_ring_fraction(-torch.ones(1, 4, 4), 1),
        ValueError, "maps must be non-negative, got minimum -1.0"),
    ("outer ring: a NaN in a map", lambda: outer_ring_fraction(torch.ones(1, 4, 4).index_fill(2, torch.tensor([1]), NAN), 1),
        ValueError, "maps must be finite, got 4 NaN/inf entries (shape (1, 4, 4))"),
    ("saliency: channels-last images", lambda: saliency_map(_model(), torch.rand(2, 8, 8, 3, dtype=torch.float64), 0),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("grad_cam: channels-last images", lambda: grad_cam(_model(), _model()[5], torch.rand(2, 8, 8, 3, dtype=torch.float64), 0),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("guided backprop: channels-last images", lambda: guided_backprop(_model(), torch.rand(2, 8, 8, 3, dtype=torch.float64), 0),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("fooling: channels-last images", lambda: fooling_image(_model(), torch.rand(2, 8, 8, 3, dtype=torch.float64), 0),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("random flips: channels-last images", lambda: random_direction_flips(_model(), torch.rand(2, 8, 8, 3, dtype=torch.float64), [0.1, 0.1]),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("step: channels-last image", lambda: class_visualization_step(_model(), torch.rand(1, 8, 8, 3, dtype=torch.float64), 0, lr=0.1, l2_reg=0.0),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("saliency: 1-channel images for an RGB model", lambda: saliency_map(small_cnn((8,)).eval(), torch.rand(2, 1, 32, 32), 0),
        ValueError, "the model's input must be images (N, 3, H, W) in [0, 1], got shape (2, 1, 32, 32)"),
    ("visualization: 1-channel images for an RGB model", lambda: class_visualization(small_cnn((8,)), 0, image_shape=(1, 32, 32), num_iterations=1),
        ValueError, "the model's input must be images (N, 3, H, W) in [0, 1], got shape (1, 1, 32, 32)"),
    ("upsample: mode by position", lambda: upsample(torch.ones(1, 2, 2), (4, 4), "nearest"),
        TypeError, "positional argument"),
    ("upsample: size 0", lambda: upsample(torch.ones(1, 2, 2), (0, 4)),
        ValueError, "size[0] must be an int >= 1, got 0"),
    ("upsample: one size", lambda: upsample(torch.ones(1, 2, 2), (4,)),
        TypeError, "size must be a pair (H, W) of ints >= 1, got (4,)"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


def test_good_target_forms_agree():
    model, x = tiny_cnn(0), images(0)
    reference = saliency_map(model, x, [2, 2, 2])
    for target in (2, torch.tensor(2), torch.tensor([2, 2, 2]), (2, 2, 2)):
        torch.testing.assert_close(saliency_map(model, x, target), reference)


@pytest.mark.parametrize("l2_reg", [0.0, 0.3])
def test_class_visualization_step_is_the_normalised_ascent_step(l2_reg):
    model, x = tiny_cnn(1), images(1)
    target = [0, 4, 2]
    step = class_visualization_step(model, x, target, lr=0.5, l2_reg=l2_reg)
    # reference: the objective's gradient by Captum (score) plus the
    # penalty's gradient written out, -2 * l2_reg * I
    g = Saliency(model).attribute(x, target=target, abs=False)
    g = g - 2 * l2_reg * x
    norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    torch.testing.assert_close(step, x + 0.5 * g / norm)
    assert (step - x).flatten(1).norm(dim=1).sub(0.5).abs().max() < 1e-12
    # the step is not one of the classic mistakes (the check can fail), for
    # both values of l2_reg: the other l2_reg (for 0.3 the flipped sign, for
    # 0 a penalty that should not be there), and the norm of the whole
    # batch instead of one per image
    other = 0.3 if l2_reg == 0 else -l2_reg
    g_other = g + 2 * (l2_reg - other) * x
    wrong = {
        "other penalty": x
        + 0.5 * g_other / g_other.flatten(1).norm(dim=1).view(-1, 1, 1, 1),
        "batch norm": x + 0.5 * g / g.norm(),
    }
    for name, value in wrong.items():
        assert not torch.allclose(step, value), name


def test_class_visualization_is_built_on_the_step():
    """One iteration, no jitter, no blur, a range too wide to clamp: the
    result is the middle grey plus one step on the centred image."""
    model = tiny_cnn(2)
    kwargs = dict(
        image_shape=(3, 8, 8),
        num_iterations=1,
        blur_every=0,
        max_jitter=0,
        value_range=(-50.0, 52.0),
    )
    image = class_visualization(
        model,
        [1, 3],
        lr=0.7,
        l2_reg=0.01,
        generator=torch.Generator().manual_seed(5),
        **kwargs,
    )
    g = torch.Generator().manual_seed(5)
    z = (0.05 * 102 * torch.randn(2, 3, 8, 8, generator=g)).double()
    torch.randint(0, 1, (2,), generator=g)  # the (zero) jitter draw

    class Shifted(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, v):
            return self.model(v + 1.0)

    expected = 1.0 + class_visualization_step(
        Shifted(), z.double(), [1, 3], lr=0.7, l2_reg=0.01
    )
    assert image.shape == (2, 3, 8, 8)
    torch.testing.assert_close(image, expected)


def test_class_visualization_targets_blur_and_generator(refused):
    model = tiny_cnn(4)
    kwargs = dict(image_shape=(3, 8, 8), num_iterations=4, blur_every=2)
    state = torch.random.get_rng_state()
    one = class_visualization(
        model,
        torch.tensor(1),
        blur_sigma=0.0,
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
    assert torch.equal(torch.random.get_rng_state(), state)
    assert one.shape == (3, 8, 8) and bool(one.isfinite().all())
    many = class_visualization(
        model, [0, 1], generator=torch.Generator().manual_seed(0), **kwargs
    )
    assert many.shape == (2, 3, 8, 8)
    for bad, error, fragment in [
        (
            dict(blur_sigma=-1.0),
            ValueError,
            "blur_sigma must be a finite number in [0, inf), got -1.0",
        ),
        (
            dict(blur_sigma=float("nan")),
            ValueError,
            "blur_sigma must be a finite number in [0, inf), got nan",
        ),
        (
            dict(value_range=(1.0, 0.0)),
            ValueError,
            "value_range must satisfy lo < hi, got (1.0, 0.0)",
        ),
        (
            dict(value_range=(0.0, 0.0)),
            ValueError,
            "value_range must satisfy lo < hi, got (0.0, 0.0)",
        ),
        (
            dict(value_range=0.5),
            TypeError,
            "value_range must be a pair (lo, hi), got 0.5",
        ),
        (
            dict(num_iterations=-1),
            ValueError,
            "num_iterations must be an int >= 0, got -1",
        ),
        (
            dict(num_iterations=2.5),
            TypeError,
            "num_iterations must be an int >= 0, got 2.5 (float)",
        ),
        (
            dict(lr=0.0),
            ValueError,
            "lr must be a finite number in (0, inf), got 0.0",
        ),
        (
            dict(l2_reg=-1.0),
            ValueError,
            "l2_reg must be a finite number in [0, inf), got -1.0",
        ),
        (
            dict(max_jitter=4),
            ValueError,
            "max_jitter must be below half the image size (8, 8), got 4",
        ),
    ]:
        refused(
            lambda bad=bad: class_visualization(model, 1, **{**kwargs, **bad}),
            error,
            fragment,
        )
    refused(
        lambda: class_visualization(model, -1, **kwargs),
        ValueError,
        "target must be an int in [0, 5)",
    )


def test_fooling_image_refuses_bad_arguments(refused):
    model, x = tiny_cnn(0), images(0)
    for bad, error, fragment in [
        (
            dict(lr=-0.1),
            ValueError,
            "lr must be a finite number in (0, inf), got -0.1",
        ),
        (
            dict(num_iterations=2.5),
            TypeError,
            "num_iterations must be an int >= 0, got 2.5 (float)",
        ),
        (
            dict(num_iterations=-1),
            ValueError,
            "num_iterations must be an int >= 0, got -1",
        ),
        (
            dict(value_range=(1, 0)),
            ValueError,
            "value_range must satisfy lo < hi, got (1, 0)",
        ),
        (
            dict(value_range=(0, "1")),
            TypeError,
            "value_range[1] must be a real number, got '1' (str)",
        ),
    ]:
        refused(
            lambda bad=bad: fooling_image(model, x, 1, **bad), error, fragment
        )


def test_random_direction_flips_counts_changed_predictions():
    model, x = tiny_cnn(3), images(3, n=2)
    g = torch.Generator().manual_seed(0)
    counts = random_direction_flips(
        model, x, [0.0, 0.0], num_directions=20, generator=g
    )
    assert counts == [0, 0]  # no change, no flip
    # brute force: the same draws, image by image
    g1, g2 = (torch.Generator().manual_seed(1) for _ in range(2))
    counts = random_direction_flips(
        model,
        x,
        [20.0, 50.0],
        num_directions=30,
        value_range=(-1e3, 1e3),
        generator=g1,
    )
    expected = []
    for image, norm in zip(x, [20.0, 50.0]):
        d = torch.randn(30, 3, 8, 8, generator=g2, dtype=torch.float64)
        moved = image + norm * d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        before = model(image[None]).argmax(1)
        changed = model(moved).argmax(1) != before
        expected.append(int(changed.sum()))
    assert counts == expected and any(counts)
    with pytest.raises(ValueError, match="norms"):
        random_direction_flips(model, x, [1.0])
    with pytest.raises(ValueError, match="norms"):
        random_direction_flips(model, x, [1.0, -1.0])


def test_outer_ring_fraction_and_map_correlations():
    maps = torch.ones(2, 8, 8)
    torch.testing.assert_close(
        outer_ring_fraction(maps, 2), torch.full((2,), 1 - 16 / 64)
    )
    ring = torch.zeros(1, 8, 8)
    ring[0, 0] = 1
    assert outer_ring_fraction(ring, 1).item() == 1.0
    # an all-zero map has no share (not 1.0): NaN, so an average shows it
    blank = torch.cat([ring, torch.zeros(1, 8, 8)])
    shares = outer_ring_fraction(blank, 1)
    assert shares[0].item() == 1.0 and shares[1].isnan()
    with pytest.raises(ValueError, match="width"):
        outer_ring_fraction(maps, 4)
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 4, 5, 5, generator=g, dtype=torch.float64)
    r = map_correlations(m, [0, 2, 3])
    for i, ref in enumerate([0, 2, 3]):
        expected = torch.corrcoef(m[i].flatten(1))[ref]
        torch.testing.assert_close(r[i], expected)


@pytest.mark.parametrize("training", [False, True])
def test_class_visualization_leaves_the_model_mode_and_statistics(training):
    # a BatchNorm model: had the mode changed, its running statistics and
    # every later forward pass would change with it
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 8 * 8, 5),
        ).double()
    model.train(training)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    class_visualization(
        model,
        1,
        image_shape=(3, 8, 8),
        num_iterations=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert model.training == training
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_clamped_move_has_the_asked_norm_after_clamping():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 8, 8, generator=g, dtype=torch.float64)
    d = torch.randn(50, 3, 8, 8, generator=g, dtype=torch.float64)
    d = d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    moved = clamped_move(image, d, 3.0)
    assert moved.min() >= 0 and moved.max() <= 1
    lengths = (moved - image).flatten(1).norm(dim=1)
    torch.testing.assert_close(lengths, torch.full_like(lengths, 3.0))
    # the bias this removes: clamping a step of length 3 shortens it
    naive = (image + 3.0 * d).clamp(0, 1) - image
    assert bool((naive.flatten(1).norm(dim=1) < 2.9).all())
    # without clamping the move is the plain step of that length
    wide = clamped_move(image, d, 3.0, value_range=(-100.0, 100.0))
    torch.testing.assert_close(wide, image + 3.0 * d)
    assert torch.equal(clamped_move(image, d, 0.0), image.expand_as(d))
    with pytest.raises(ValueError, match="reachable"):
        clamped_move(image, d, 100.0)


def test_rank_correlations_match_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 5, (4, 6, 6), generator=g).double()  # many ties
    b = a + torch.randint(0, 3, (4, 6, 6), generator=g)
    b[3] = torch.rand(6, 6, generator=g)
    ours = rank_correlations(a, b)
    for i in range(4):
        rho = stats.spearmanr(a[i].flatten(), b[i].flatten()).statistic
        assert abs(ours[i].item() - rho) < 1e-12
    torch.testing.assert_close(
        rank_correlations(a, a**3), torch.ones(4, dtype=torch.float64)
    )  # monotone maps of each other rank alike
    torch.testing.assert_close(
        rank_correlations(a, -a), -torch.ones(4, dtype=torch.float64)
    )
    constant = rank_correlations(torch.ones(1, 3, 3), a[:1, :3, :3])
    assert constant.isnan().all()
    with pytest.raises(ValueError, match="one shape"):
        rank_correlations(a, b[:, :3])


def test_cascading_randomization_redraws_layers_from_the_top():
    model = tiny_cnn(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copies = cascading_randomization(
        model, generator=torch.Generator().manual_seed(0)
    )
    names = [name for name, _ in copies]
    assert names == ["8", "5", "2", "0"]  # linear, then the convs, top down
    for k, (_, randomized) in enumerate(copies):
        changed = {n for n in names[: k + 1]}
        for key, value in randomized.state_dict().items():
            same = torch.equal(value, before[key])
            assert same != (key.split(".")[0] in changed), (k, key)
            if not same:  # same scale, new values
                ratio = value.std() / before[key].std()
                assert 0.5 < ratio.item() < 2
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])  # the model is untouched
    again = cascading_randomization(
        model, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(again[0][1][8].weight, copies[0][1][8].weight)
    with pytest.raises(ValueError, match="no nn.Conv2d or nn.Linear"):
        cascading_randomization(nn.Sequential(nn.ReLU()))


def test_randomization_correlations_tell_model_blind_maps_apart():
    model, x = tiny_cnn(1), images(1, n=4)
    copies = cascading_randomization(
        model, generator=torch.Generator().manual_seed(1)
    )

    def blind(model, x, target):  # a "map" that ignores the model
        return x

    r_blind = randomization_correlations(model, blind, x, 0, copies)
    assert r_blind.shape == (4, 4)
    torch.testing.assert_close(r_blind, torch.ones(4, 4, dtype=torch.float64))
    r = randomization_correlations(model, saliency_map, x, 0, copies)
    # the brute-force value of one entry
    expected = rank_correlations(
        saliency_map(model, x, 0), saliency_map(copies[2][1], x, 0)
    )
    torch.testing.assert_close(r[2], expected)
    assert bool((r[-1] < 0.9).all())  # a fully random model: other maps


def test_side_by_side_and_own_half_shares():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 2, 3, 8, 8, generator=g)
    both = side_by_side(a, b)
    assert torch.equal(both[..., :4], a[..., 2:6])
    assert torch.equal(both[..., 4:], b[..., 2:6])
    left = torch.zeros(1, 4, 4)
    left[0, :, 0] = 3.0  # all in the left half
    right = torch.ones(1, 4, 4)  # evenly spread
    torch.testing.assert_close(
        own_half_shares(left, right), torch.tensor([[1.0, 0.5]])
    )
    # a map that ignores the class: the two shares add up to 1, so they
    # cannot both exceed one half (the measure can fail)
    maps = torch.rand(5, 4, 4, generator=g)
    shares = own_half_shares(maps, maps)
    torch.testing.assert_close(shares.sum(1), torch.ones(5))
    assert not bool((shares > 0.5).all(1).any())
    with pytest.raises(ValueError, match="non-negative"):
        own_half_shares(-maps, maps)
    with pytest.raises(ValueError, match="multiple of 4"):
        side_by_side(a[..., :6], b[..., :6])


@pytest.mark.parametrize("seed", [0, 1])
def test_grad_cam_on_a_linear_head_is_rectified_cam(seed):
    """Below a flatten + linear head, Grad-CAM is ReLU(CAM) / Z, CAM with
    the head's weights averaged over the Z positions (the chapter's
    identity); the per-position weights give another map (it can fail)."""
    model, x = tiny_cnn(seed), images(seed)
    target = [0, 3, 1]
    ours = grad_cam(model, model[6], x, target)  # the last ReLU, (N, 8, 4, 4)
    with torch.no_grad():
        a = model[:7](x)
    weight = model[8].weight.view(5, 8, 4, 4)[target]  # (N, 8, 4, 4)
    w = 16 * weight.mean((2, 3))  # CAM's weights for a pooled head
    cam = torch.einsum("nk,nkij->nij", w, a)
    torch.testing.assert_close(ours, cam.relu() / 16)
    per_position = (weight * a).sum(1)
    assert not torch.allclose(ours, per_position.relu())


def test_composite_pairs_join_different_classes_at_a_shift():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    left, right = composite_pairs(labels, 1, limit=10)
    assert left.tolist() == [1, 3, 5] and right.tolist() == [2, 4, 0]
    assert bool((labels[left] != labels[right]).all())
    left, right = composite_pairs(labels, 2, limit=2)
    assert left.tolist() == [0, 1] and right.tolist() == [2, 3]
    with pytest.raises(ValueError, match="multiple of len"):
        composite_pairs(labels, 6, limit=3)
    with pytest.raises(ValueError, match="1-D"):
        composite_pairs(torch.zeros(2, 2), 1, limit=3)


def test_both_on_own_half_scores_a_class_blind_method_zero():
    g = torch.Generator().manual_seed(0)
    left, right = torch.rand(2, 6, 3, 8, 8, generator=g)
    t_left, t_right = torch.zeros(6, dtype=torch.long), torch.ones(6).long()

    def blind(model, x, target):  # the same map whatever the class
        return x

    def oracle(model, x, target):  # all mass on the half of its class
        maps = torch.zeros(len(x), 8, 8)
        side = torch.as_tensor(target)
        maps[side == 0, :, :4] = 1.0
        maps[side == 1, :, 4:] = 1.0
        return maps

    assert both_on_own_half(None, blind, left, right, t_left, t_right) == 0
    assert both_on_own_half(None, oracle, left, right, t_left, t_right) == 1
    # the mutation: the oracle with the classes swapped fails everywhere
    assert both_on_own_half(None, oracle, left, right, t_right, t_left) == 0


def test_randomization_ends_match_the_cascade_per_seed():
    model, x = tiny_cnn(1), images(1, n=4)
    ends = randomization_ends(model, saliency_map, x, 0, [3, 4])
    assert ends.shape == (2, 2)
    for row, seed in zip(ends, [3, 4]):
        copies = cascading_randomization(
            model, generator=torch.Generator().manual_seed(seed)
        )
        r = randomization_correlations(model, saliency_map, x, 0, copies)
        torch.testing.assert_close(row[0], r[0].nanmedian())
        torch.testing.assert_close(row[1], r[-1].nanmedian())
    assert not torch.equal(ends[0], ends[1])  # the seeds differ
    with pytest.raises(ValueError, match="at least one seed"):
        randomization_ends(model, saliency_map, x, 0, [])
