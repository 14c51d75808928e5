import pytest
import torch
from captum.attr import GuidedBackprop, GuidedGradCam, LayerGradCam, Saliency
from captum.testing.helpers.basic_models import BasicModel_ConvNet_One_Conv
from torch import nn

from hwlib.attribution import (
    class_visualization,
    fooling_image,
    grad_cam,
    guided_backprop,
    guided_grad_cam,
    saliency_map,
    upsample,
)


def random_cnn(seed, device="cpu"):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 5),
    )
    return model.double().to(device)


def images(seed, n=3, device="cpu"):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saliency_is_max_abs_input_gradient_and_matches_captum(seed, device):
    model, x = random_cnn(seed, device), images(seed, device=device)
    target = [0, 3, 4]
    ours = saliency_map(model, x, target)
    assert ours.shape == (3, 8, 8)
    xg = x.clone().requires_grad_(True)
    model(xg).gather(1, torch.tensor(target, device=device)[:, None]).sum().backward()
    torch.testing.assert_close(ours, xg.grad.abs().amax(1))  # the definition, by autograd
    captum = Saliency(model).attribute(x, target=target).amax(1)  # abs=True by default
    torch.testing.assert_close(ours, captum)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_guided_backprop_matches_captum(seed, device):
    model, x = random_cnn(seed, device), images(seed, device=device)
    torch.testing.assert_close(guided_backprop(model, x, 2), GuidedBackprop(model).attribute(x, target=2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grad_cam_definition_and_captum(seed, device):
    model, x = random_cnn(seed, device), images(seed, device=device)
    layer = model[5]  # the last convolution, 4x4 maps
    ours = grad_cam(model, layer, x, [1, 2, 3])
    assert ours.shape == (3, 4, 4)
    captum = LayerGradCam(model, layer).attribute(x, target=[1, 2, 3], relu_attributions=True)[:, 0]
    torch.testing.assert_close(ours, captum)
    # the definition, written out: activations and their gradient by autograd
    feats = model[:6](x)
    feats.retain_grad()
    model[6:](feats).gather(1, torch.tensor([[1], [2], [3]], device=device)).sum().backward()
    alpha = feats.grad.mean((2, 3), keepdim=True)
    torch.testing.assert_close(ours, torch.relu((alpha * feats).sum(1)).detach())


@pytest.mark.parametrize("seed", [0, 1])
def test_guided_grad_cam_matches_captum_with_nearest_upsampling(seed):
    model, x = random_cnn(seed), images(seed)
    ours = guided_grad_cam(model, model[5], x, 4, mode="nearest")
    torch.testing.assert_close(ours, GuidedGradCam(model, model[5]).attribute(x, target=4))


def test_captum_reference_values_on_its_one_conv_model():
    """Captum's own published expectations for BasicModel_ConvNet_One_Conv (its test suite)."""
    net = BasicModel_ConvNet_One_Conv()
    inp = torch.arange(16, dtype=torch.float).view(1, 1, 4, 4)
    torch.testing.assert_close(grad_cam(net, net.conv1, inp, 0)[0], torch.tensor([[11.25, 13.5], [20.25, 22.5]]))
    torch.testing.assert_close(grad_cam(net, net.relu1, inp, 0)[0], torch.tensor([[0.0, 4.0], [28.0, 32.5]]))
    gb = torch.tensor([[0.0, 1, 1, 1], [1, 3, 3, 2], [1, 3, 3, 2], [1, 2, 2, 1]])
    torch.testing.assert_close(guided_backprop(net, inp, 0)[0, 0], gb)
    ggc = torch.tensor([[0.0, 0, 4, 4], [0, 0, 12, 8], [28, 84, 97.5, 65], [28, 56, 65, 32.5]])
    torch.testing.assert_close(guided_grad_cam(net, net.relu1, inp, 0, mode="nearest")[0, 0], ggc)


def test_model_mode_and_parameters_are_left_unchanged():
    model, x = random_cnn(0), images(0)
    model.train()
    model[0].weight.requires_grad_(False)
    before = [p.detach().clone() for p in model.parameters()]
    flags = [p.requires_grad for p in model.parameters()]
    saliency_map(model, x, 0), guided_backprop(model, x, 0), grad_cam(model, model[5], x, 0)
    fooling_image(model, x, 1, max_iter=3)
    class_visualization(model, 0, image_shape=(3, 8, 8), num_iterations=3)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._backward_hooks or m._forward_hooks for m in model.modules())  # hooks removed


def test_fooling_image_reaches_the_target_and_stays_in_range():
    model, x = random_cnn(3), images(3, n=4)
    target = model(x).topk(2, dim=1).indices[:, 1]  # the runner-up class of each image
    result = fooling_image(model, x, target, lr=0.05, max_iter=500)
    assert all(result.fooled)
    assert torch.equal(model(result.image).argmax(1), target)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert all(0 < i <= 500 for i in result.iterations) and all(v > 0 for v in result.linf)


def test_class_visualization_raises_the_target_score():
    model = random_cnn(4)
    g = torch.Generator().manual_seed(0)
    start = class_visualization(model, 2, image_shape=(3, 8, 8), num_iterations=0, generator=g)
    image = class_visualization(model, 2, image_shape=(3, 8, 8), num_iterations=100, generator=torch.Generator().manual_seed(0))
    assert image.shape == (3, 8, 8) and image.min() >= 0 and image.max() <= 1
    assert model(image[None])[0, 2] > model(start[None])[0, 2]


def test_bad_inputs():
    model, x = random_cnn(0), images(0)
    with pytest.raises(ValueError, match=r"target must be an int or 3 class indices"):
        saliency_map(model, x, [0, 1])
    with pytest.raises(ValueError, match=r"batch of images \(N, C, H, W\)"):
        saliency_map(model, x[0], 0)
    with pytest.raises(ValueError, match="nn.ReLU modules; found none"):
        guided_backprop(nn.Sequential(nn.Flatten(), nn.Linear(192, 2)).double(), x, 0)
    with pytest.raises(ValueError, match="inplace=False"):
        guided_backprop(nn.Sequential(nn.Flatten(), nn.Linear(192, 2), nn.ReLU(inplace=True)).double(), x, 0)
    with pytest.raises(ValueError, match="was not called"):
        grad_cam(model, nn.Conv2d(1, 1, 1), x, 0)
    assert upsample(torch.ones(2, 4, 4), (8, 8)).shape == (2, 8, 8)
