"""Gradients with respect to the input: saliency, guided backprop, Grad-CAM, fooling images and
class visualisation (seed 004 §6).

Conventions. `model` maps images (N, C, H, W) to unnormalised class scores (N, classes); `target`
is one class for all images (int) or one per image (sequence or tensor of N ints). Every function
runs the model in eval mode with its parameters frozen and restores both afterwards, so neither
the model's mode nor its parameters (values or requires_grad flags) change.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _target_tensor(target: int | Sequence[int] | Tensor, n: int, device: torch.device) -> Tensor:
    t = torch.as_tensor(target, device=device, dtype=torch.int64)
    t = t.expand(n) if t.ndim == 0 else t
    if t.shape != (n,):
        raise ValueError(f"target must be an int or {n} class indices (one per image), got shape {tuple(t.shape)}")
    return t


@contextmanager
def _inspection(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters inside; the original mode and flags restored after."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        model.train(was_training)
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)


def _check_images(x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), got shape {tuple(x.shape)}")


def class_scores(model: nn.Module, x: Tensor, target) -> Tensor:
    """s_target(x) for every image: (N,)."""
    scores = model(x)
    return scores.gather(1, _target_tensor(target, len(x), x.device)[:, None])[:, 0]


def input_gradient(model: nn.Module, x: Tensor, target) -> Tensor:
    """∂ s_target / ∂x for each image: (N, C, H, W)."""
    _check_images(x)
    with _inspection(model):
        x = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(class_scores(model, x, target).sum(), x)
    return grad


def saliency_map(model: nn.Module, x: Tensor, target) -> Tensor:
    """M_ij = max_c |∂ s_target / ∂x_cij| (Simonyan et al., 2014): (N, H, W)."""
    return input_gradient(model, x, target).abs().amax(dim=1)


@contextmanager
def _guided_relus(model: nn.Module) -> Iterator[None]:
    """Make every nn.ReLU pass back only positive gradients, at positive inputs."""

    def hook(module, grad_input, grad_output):
        return (grad_input[0].clamp(min=0),)  # ReLU' masks the input side; keep the positive part

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError("guided backprop needs a model whose rectifiers are nn.ReLU modules; found none")
    if any(m.inplace for m in relus):
        raise ValueError("guided backprop needs nn.ReLU(inplace=False): backward hooks cannot see in-place ReLUs")
    handles = [m.register_full_backward_hook(hook) for m in relus]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def guided_backprop(model: nn.Module, x: Tensor, target) -> Tensor:
    """Guided backpropagation (Springenberg et al., 2015): (N, C, H, W).

    The gradient of s_target with respect to x, except that every ReLU passes back only the
    positive part of the gradient arriving from above (and only where its input was positive).
    """
    with _guided_relus(model):
        return input_gradient(model, x, target)


def _layer_activation_and_gradient(model: nn.Module, layer: nn.Module, x: Tensor, target) -> tuple[Tensor, Tensor]:
    stored: list[Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: stored.append(output))
    try:
        with _inspection(model):
            scores = class_scores(model, x.detach().clone().requires_grad_(True), target)
            if not stored:
                raise ValueError(f"the layer {layer!r} was not called in the model's forward pass")
            (grad,) = torch.autograd.grad(scores.sum(), stored[0])
    finally:
        handle.remove()
    return stored[0].detach(), grad


def grad_cam(model: nn.Module, layer: nn.Module, x: Tensor, target) -> Tensor:
    """Grad-CAM (Selvaraju et al., 2017) at the layer's resolution: (N, h, w).

    With A^k the layer's k-th feature map and α_k = mean_ij ∂s_target/∂A^k_ij,
    L = ReLU(Σ_k α_k A^k).
    """
    _check_images(x)
    activation, grad = _layer_activation_and_gradient(model, layer, x, target)
    if activation.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer with (N, K, h, w) output, got {tuple(activation.shape)}")
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activation).sum(dim=1))


def upsample(maps: Tensor, size: tuple[int, int], mode: str = "bilinear") -> Tensor:
    """Resize (N, h, w) maps to (N, H, W) ("bilinear" as in the Grad-CAM paper, or "nearest")."""
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(maps[:, None], size=size, mode=mode, **kwargs)[:, 0]


def guided_grad_cam(model: nn.Module, layer: nn.Module, x: Tensor, target, mode: str = "bilinear") -> Tensor:
    """Guided backprop times the upsampled Grad-CAM map: (N, C, H, W)."""
    cam = upsample(grad_cam(model, layer, x, target), x.shape[-2:], mode)
    return guided_backprop(model, x, target) * cam[:, None]


@dataclass
class FoolingResult:
    image: Tensor  # (N, C, H, W), in [lo, hi]
    iterations: list[int]  # gradient steps each image needed
    fooled: list[bool]  # whether the model predicts the target at the end
    linf: list[float]  # max |image - x| per image
    l2: list[float]  # ||image - x||_2 per image


def fooling_image(
    model: nn.Module, x: Tensor, target, lr: float = 0.05, max_iter: int = 200, value_range: tuple[float, float] = (0.0, 1.0)
) -> FoolingResult:
    """Nudge each image until the model predicts `target` (gradient ascent on the target score).

    Step: x <- clip(x + lr * g / ||g||_2) with g = ∂ s_target/∂x, per image, stopping each image as
    soon as its prediction is the target (or after max_iter steps).
    """
    _check_images(x)
    t = _target_tensor(target, len(x), x.device)
    image = x.detach().clone()
    iterations = [0] * len(x)
    with _inspection(model):
        for step in range(max_iter + 1):
            image.requires_grad_(True)
            scores = model(image)
            active = scores.argmax(1) != t
            if not active.any() or step == max_iter:
                break
            (grad,) = torch.autograd.grad(scores.gather(1, t[:, None]).sum(), image)
            norms = grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
            with torch.no_grad():
                image = (image + lr * active.view(-1, 1, 1, 1) * grad / norms).clamp(*value_range)
            for i in active.nonzero()[:, 0].tolist():
                iterations[i] += 1
        image = image.detach()
        fooled = (model(image).argmax(1) == t).tolist()
    change = (image - x).flatten(1)
    return FoolingResult(image, iterations, fooled, change.abs().amax(1).tolist(), change.norm(dim=1).tolist())


def _gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    radius = max(1, int(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def class_visualization(
    model: nn.Module,
    target: int,
    image_shape: tuple[int, int, int] = (3, 32, 32),
    l2_reg: float = 1e-3,
    lr: float = 0.1,
    num_iterations: int = 200,
    blur_every: int = 10,
    blur_sigma: float = 0.5,
    max_jitter: int = 2,
    value_range: tuple[float, float] = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """An image that the model scores highly for `target` (Simonyan et al., 2014): (C, H, W).

    Maximises s_target(I) - l2_reg * ||I - m||^2 (m the middle of the value range) by normalised
    gradient ascent, with a random jitter (roll by up to max_jitter pixels) before each step, a
    Gaussian blur every `blur_every` steps, and clamping to the valid range.
    """
    reference = next(model.parameters())
    lo, hi = value_range
    middle = (lo + hi) / 2
    noise = torch.randn(1, *image_shape, generator=generator, device=getattr(generator, "device", None) or reference.device)
    image = (middle + 0.05 * (hi - lo) * noise).to(reference)
    with _inspection(model):
        for step in range(1, num_iterations + 1):
            dy, dx = torch.randint(-max_jitter, max_jitter + 1, (2,), generator=generator).tolist()
            shifted = image.roll((dy, dx), dims=(2, 3)).requires_grad_(True)
            objective = model(shifted)[0, target] - l2_reg * ((shifted - middle) ** 2).sum()
            (grad,) = torch.autograd.grad(objective, shifted)
            with torch.no_grad():
                shifted = shifted + lr * grad / grad.norm().clamp(min=1e-12)
                image = shifted.roll((-dy, -dx), dims=(2, 3)).clamp(lo, hi)
                if blur_every and step % blur_every == 0:
                    image = _gaussian_blur(image, blur_sigma)
    return image[0].detach()
