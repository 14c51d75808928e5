"""Gradients with respect to the input: saliency, guided backprop, Grad-CAM,
fooling images and class visualisation (seed 004 §6).

Conventions. `model` maps images (N, C, H, W) to unnormalised class scores (N,
classes); `target` is one class for all images (int) or one per image (sequence
or tensor of N ints). Every function runs the model in eval mode with its
parameters frozen and restores both afterwards, so neither the model's mode nor
its parameters (values or requires_grad flags) change.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _validate

Target = int | Sequence[int] | Tensor


def _target_values(target, name: str, expected: str) -> Tensor:
    """`target` as an int64 tensor of any shape, or a TypeError naming it.

    An int, or a sequence or tensor of ints; bools, floats, complex numbers
    and anything that is not numbers are refused.
    """
    if isinstance(target, bool) or (
        isinstance(target, Tensor) and target.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be {expected}, got {target!r} (a bool)")
    if isinstance(target, numbers.Integral):
        return torch.tensor(int(target))
    t = _validate.as_tensor(name, target, expected)
    wrong_kind = t.dtype == torch.bool or t.is_floating_point()
    if t.numel() and (wrong_kind or t.is_complex()):  # [] is float32
        raise TypeError(
            f"{name} must be {expected}, got {target!r} ({t.dtype})"
        )
    return t.to(torch.int64)


def _target_tensor(
    target: Target,
    n: int,
    num_classes: int,
    device: torch.device,
    *,
    name: str = "target",
    classes: str | None = None,
) -> Tensor:
    """`target` as (n,) int64 class indices on `device`, checked.

    An int (one class for every image) or n ints (one per image), each in
    [0, num_classes). Bools, floats and out-of-range classes are refused;
    the errors call the argument `name` and say where num_classes comes
    from with `classes` (default: "the model has K classes").
    """
    expected = f"an int in [0, {num_classes}) or {n} such ints (one per image)"
    t = _target_values(target, name, expected).to(device)
    t = t.expand(n) if t.ndim == 0 else t
    if t.shape != (n,):
        raise ValueError(
            f"{name} must be {expected}, got shape {tuple(t.shape)}"
        )
    bad = (t < 0) | (t >= num_classes)
    if bool(bad.any()):
        classes = classes or f"the model has {num_classes} classes"
        raise ValueError(
            f"{name} must be {expected}: {classes}, got {t[bad][0].item()}"
        )
    return t


def _value_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = value_range
    except (TypeError, ValueError):
        raise TypeError(
            f"value_range must be a pair (lo, hi), got {value_range!r}"
        ) from None
    lo = _validate.real("value_range[0]", lo)
    hi = _validate.real("value_range[1]", hi)
    if not lo < hi:
        raise ValueError(
            f"value_range must satisfy lo < hi, got {value_range!r}"
        )
    return lo, hi


@contextmanager
def _inspection(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters inside; the original mode and flags
    restored after.
    """
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


def _check_images(x: Tensor, name: str = "x") -> None:
    """x is a floating batch of images (N, C, H, W); errors call it `name`.

    A batch that looks channels-last (N, H, W, 3) is refused with a hint.
    """
    x = _validate.tensor(name, x, what="a tensor of images (N, C, H, W)")
    hint = _validate.channels_last_hint(x)
    if x.ndim != 4 or not x.is_floating_point() or hint:
        raise ValueError(
            f"{name} must be a float batch of images (N, C, H, W), got "
            f"{x.dtype} of shape {tuple(x.shape)}{hint}"
        )
    _validate.finite(name, x)


def _check_maps(maps: Tensor, shape: str) -> None:
    """maps is a tensor with the axes `shape` names, e.g. "(N, H, W)"."""
    _validate.tensor("maps", maps, shape=shape)


def class_scores(model: nn.Module, x: Tensor, target: Target) -> Tensor:
    """s_target(x) for every image: (N,)."""
    scores = model(x)
    t = _target_tensor(target, len(x), scores.shape[1], x.device)
    return scores.gather(1, t[:, None])[:, 0]


def input_gradient(model: nn.Module, x: Tensor, target: Target) -> Tensor:
    """∂ s_target / ∂x for each image: (N, C, H, W)."""
    _check_images(x)
    with _inspection(model):
        x = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(class_scores(model, x, target).sum(), x)
    return grad


def saliency_map(model: nn.Module, x: Tensor, target: Target) -> Tensor:
    """M_ij = max_c |∂ s_target / ∂x_cij| (Simonyan et al. 2014): (N, H, W)."""
    return input_gradient(model, x, target).abs().amax(dim=1)


@contextmanager
def _guided_relus(model: nn.Module) -> Iterator[None]:
    """Make every nn.ReLU pass back only positive gradients, at positive
    inputs.
    """

    def hook(module, grad_input, grad_output):
        return (
            grad_input[0].clamp(min=0),
        )  # ReLU' masks the input side; keep the positive part

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(
            "guided backprop needs a model whose rectifiers are nn.ReLU "
            "modules; found none"
        )
    if any(m.inplace for m in relus):
        raise ValueError(
            "guided backprop needs nn.ReLU(inplace=False): backward hooks "
            "cannot see in-place ReLUs"
        )
    handles = [m.register_full_backward_hook(hook) for m in relus]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def guided_backprop(model: nn.Module, x: Tensor, target: Target) -> Tensor:
    """Guided backpropagation (Springenberg et al., 2015): (N, C, H, W).

    The gradient of s_target with respect to x, except that every ReLU passes
    back only the positive part of the gradient arriving from above (and only
    where its input was positive).
    """
    with _guided_relus(model):
        return input_gradient(model, x, target)


def _layer_activation_and_gradient(
    model: nn.Module, layer: nn.Module, x: Tensor, target: Target
) -> tuple[Tensor, Tensor]:
    stored: list[Tensor] = []
    handle = layer.register_forward_hook(
        lambda module, inputs, output: stored.append(output)
    )
    try:
        with _inspection(model):
            scores = class_scores(
                model, x.detach().clone().requires_grad_(True), target
            )
            if not stored:
                raise ValueError(
                    f"the layer {layer!r} was not called in the model's "
                    "forward pass"
                )
            (grad,) = torch.autograd.grad(scores.sum(), stored[0])
    finally:
        handle.remove()
    return stored[0].detach(), grad


def grad_cam(
    model: nn.Module, layer: nn.Module, x: Tensor, target: Target
) -> Tensor:
    """Grad-CAM (Selvaraju et al., 2017) at the layer's resolution: (N, h, w).

    With A^k the layer's k-th feature map and α_k = mean_ij ∂s_target/∂A^k_ij,
    L = ReLU(Σ_k α_k A^k).
    """
    _check_images(x)
    activation, grad = _layer_activation_and_gradient(model, layer, x, target)
    if activation.ndim != 4:
        raise ValueError(
            "Grad-CAM needs a layer with (N, K, h, w) output, got "
            f"{tuple(activation.shape)}"
        )
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activation).sum(dim=1))


UPSAMPLE_MODES = ("bilinear", "bicubic", "nearest")


def upsample(
    maps: Tensor, size: tuple[int, int], *, mode: str = "bilinear"
) -> Tensor:
    """Resize (N, h, w) maps to (N, H, W), (H, W) = size.

    mode: "bilinear" (as in the Grad-CAM paper), "bicubic" or "nearest"
    (F.interpolate's modes; align_corners=False).
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    _check_maps(maps, "(N, h, w)")
    try:
        size = tuple(size)
        if len(size) != 2:
            raise TypeError
        size = tuple(
            _validate.integer(f"size[{i}]", v) for i, v in enumerate(size)
        )
    except TypeError as err:
        raise TypeError(
            f"size must be a pair (H, W) of ints >= 1, got {size!r}"
        ) from err
    _validate.allocation("the upsampled maps", len(maps) * size[0] * size[1])
    kwargs = {"align_corners": False} if mode != "nearest" else {}
    return F.interpolate(maps[:, None], size=size, mode=mode, **kwargs)[:, 0]


def guided_grad_cam(
    model: nn.Module,
    layer: nn.Module,
    x: Tensor,
    target: Target,
    *,
    mode: str = "bilinear",
) -> Tensor:
    """Guided backprop times the upsampled Grad-CAM map: (N, C, H, W)."""
    cam = grad_cam(model, layer, x, target)
    cam = upsample(cam, x.shape[-2:], mode=mode)
    return guided_backprop(model, x, target) * cam[:, None]


@dataclass
class FoolingResult:
    image: Tensor  # (N, C, H, W), in value_range
    iterations: list[int]  # gradient steps each image needed
    fooled: list[bool]  # whether the model predicts the target at the end
    linf: list[float]  # max |image - x| per image
    l2: list[float]  # ||image - x||_2 per image


def _normalised_step(image: Tensor, grad: Tensor, lr: float) -> Tensor:
    """image + lr * g / ||g||_2, the norm taken per image."""
    norms = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
    return image + lr * grad / norms.view(-1, 1, 1, 1)


def fooling_image(
    model: nn.Module,
    x: Tensor,
    target: Target,
    *,
    lr: float = 0.05,
    num_iterations: int = 200,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> FoolingResult:
    """Nudge each image until the model predicts `target`.

    Step (gradient ascent on the target score, per image):

        x <- clip(x + lr * g / ||g||_2, value_range),  g = ∂ s_target/∂x,

    stopping each image as soon as it is classified as the target (or
    after num_iterations steps). lr is the L2 length of each step.
    """
    _check_images(x)
    lr = _validate.real("lr", lr, low=0, low_open=True)
    num_iterations = _validate.integer(
        "num_iterations", num_iterations, minimum=0
    )
    lo, hi = _value_range(value_range)
    image = x.detach().clone()
    iterations = [0] * len(x)
    with _inspection(model):
        t = _target_tensor(target, len(x), model(image[:1]).shape[1], x.device)
        for step in range(num_iterations + 1):
            image.requires_grad_(True)
            scores = model(image)
            active = scores.argmax(1) != t
            if not active.any() or step == num_iterations:
                break
            score = scores.gather(1, t[:, None]).sum()
            (grad,) = torch.autograd.grad(score, image)
            with torch.no_grad():
                grad = grad * active.view(-1, 1, 1, 1)
                image = _normalised_step(image, grad, lr)
                image = image.clamp(lo, hi)
            for i in active.nonzero()[:, 0].tolist():
                iterations[i] += 1
        image = image.detach()
        fooled = (model(image).argmax(1) == t).tolist()
    change = (image - x).flatten(1)
    return FoolingResult(
        image,
        iterations,
        fooled,
        change.abs().amax(1).tolist(),
        change.norm(dim=1).tolist(),
    )


@torch.no_grad()
def clamped_move(
    image: Tensor,
    directions: Tensor,
    norm: float,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Tensor:
    """image moved along each direction by a clamped change of L2 norm `norm`.

    image: (C, H, W) in value_range; directions: (D, C, H, W). For each
    direction d returns clamp(image + t d, lo, hi), with the t >= 0 for which
    ||clamp(image + t d, lo, hi) - image||_2 = norm, found by bisection (the
    length is continuous and non-decreasing in t). Without clamping t would
    be norm / ||d||; clamping shortens the change, so t is larger. A norm
    beyond the farthest valid image along some direction is refused.
    """
    lo, hi = _value_range(value_range)
    d = directions

    def length(t: Tensor) -> Tensor:
        moved = (image + t.view(-1, 1, 1, 1) * d).clamp(lo, hi)
        return (moved - image).flatten(1).norm(dim=1)

    room = torch.where(d > 0, hi - image, (image - lo) * (d < 0))
    reach = room.flatten(1).norm(dim=1)
    if bool((reach < norm).any()):
        raise ValueError(
            f"norm must be reachable inside value_range along every "
            f"direction: {norm} > {reach.min().item():.4g}"
        )
    t_lo = torch.zeros(len(d), dtype=image.dtype, device=image.device)
    t_hi = torch.full_like(t_lo, norm)
    for _ in range(200):  # grow until the clamped change is long enough
        short = length(t_hi) < norm
        if not short.any():
            break
        t_hi = torch.where(short, 2 * t_hi, t_hi)
    for _ in range(60):
        mid = (t_lo + t_hi) / 2
        long_enough = length(mid) >= norm
        t_lo = torch.where(long_enough, t_lo, mid)
        t_hi = torch.where(long_enough, mid, t_hi)
    return (image + t_hi.view(-1, 1, 1, 1) * d).clamp(lo, hi)


@torch.no_grad()
def random_direction_flips(
    model: nn.Module,
    x: Tensor,
    norms: Sequence[float] | Tensor,
    *,
    num_directions: int = 200,
    value_range: tuple[float, float] = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> list[int]:
    """How many random perturbations change each image's prediction.

    For image i, draws num_directions directions d uniformly on the sphere
    (normalised Gaussians) and moves x[i] to clamp(x[i] + t d, value_range),
    with t >= 0 chosen per direction (`clamped_move`) so that the change
    *after clamping* has L2 norm norms[i]; counts the predictions that differ
    from the model's prediction for x[i]. The control for fooling images
    (which are clamped too, and whose norms are measured after clamping):
    the same size of valid change, in directions not chosen by the gradient.
    """
    _check_images(x)
    num_directions = _validate.integer("num_directions", num_directions)
    norms = _validate.real_tensor("norms", norms, dtype=x.dtype)
    if norms.shape != (len(x),) or bool((norms < 0).any()):
        raise ValueError(
            f"norms must hold {len(x)} numbers >= 0 (one per image), got "
            f"{norms.tolist()}"
        )
    lo, hi = _value_range(value_range)
    generator = _validate.generator(generator, x.device)
    counts = []
    with _inspection(model):
        for image, norm in zip(x, norms.tolist()):
            shape = (num_directions, *image.shape)
            d = torch.randn(
                shape, generator=generator, device=x.device, dtype=x.dtype
            )
            d = d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            moved = clamped_move(image, d, norm, value_range=(lo, hi))
            before = model(image[None]).argmax(1)
            counts.append(int((model(moved).argmax(1) != before).sum()))
    return counts


def _gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with reflect padding; sigma = 0: unchanged."""
    if sigma == 0:
        return image
    radius = max(1, int(3 * sigma))
    radius = min(radius, image.shape[-1] - 1, image.shape[-2] - 1)
    taps = torch.arange(
        -radius, radius + 1, dtype=image.dtype, device=image.device
    )
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(
        padded, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c
    )
    return F.conv2d(
        rows, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c
    )


def class_visualization_step(
    model: nn.Module,
    image: Tensor,
    target: Target,
    *,
    lr: float,
    l2_reg: float,
) -> Tensor:
    """One step of gradient ascent on S_target(I) - l2_reg * ||I||_2^2.

    With g = ∂ S_target/∂I - 2 l2_reg I, the gradient of that objective at
    `image` (N, C, H, W), returns

        I + lr * g / ||g||_2,

    the norm taken per image (no clamping, no jitter, no blur: those belong
    to `class_visualization`).
    """
    _check_images(image, "image")
    lr = _validate.real("lr", lr, low=0, low_open=True)
    l2_reg = _validate.real("l2_reg", l2_reg, low=0)
    with _inspection(model):
        image = image.detach().clone().requires_grad_(True)
        score = class_scores(model, image, target).sum()
        objective = score - l2_reg * (image**2).sum()
        (grad,) = torch.autograd.grad(objective, image)
    return _normalised_step(image.detach(), grad, lr)


class _Shifted(nn.Module):
    """model(z + offset): lets the L2 penalty pull towards the middle grey."""

    def __init__(self, model: nn.Module, offset: float) -> None:
        super().__init__()
        self.model, self.offset = model, offset
        self.train(model.training)  # else _inspection restores train mode

    def forward(self, z: Tensor) -> Tensor:
        return self.model(z + self.offset)


def class_visualization(
    model: nn.Module,
    target: Target,
    image_shape: tuple[int, int, int] = (3, 32, 32),
    *,
    l2_reg: float = 1e-3,
    lr: float = 0.1,
    num_iterations: int = 200,
    blur_every: int = 10,
    blur_sigma: float = 0.5,
    max_jitter: int = 2,
    value_range: tuple[float, float] = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Images that the model scores highly for `target` (Simonyan et al.).

    target: an int gives one image (C, H, W); n class indices give n images
    (n, C, H, W). Each image I maximises
    s_target(I) - l2_reg * ||I - m||^2, m the middle of value_range, by
    `class_visualization_step` on I - m, after a random jitter (roll by up to
    max_jitter pixels, undone after the step); then clamping to value_range
    and, every blur_every steps, a Gaussian blur (blur_sigma = 0: none).
    Random draws come from `generator` (on the model's device).
    """
    parameter = next(model.parameters(), None)
    device, dtype = (
        (torch.device("cpu"), torch.get_default_dtype())
        if parameter is None
        else (parameter.device, parameter.dtype)
    )
    _check_visualization_args(
        image_shape, num_iterations, blur_every, blur_sigma, max_jitter
    )
    lo, hi = _value_range(value_range)
    lr = _validate.real("lr", lr, low=0, low_open=True)
    l2_reg = _validate.real("l2_reg", l2_reg, low=0)
    generator = _validate.generator(generator, device)
    target, single = _visualization_targets(
        model, target, image_shape, device, dtype
    )
    middle = (lo + hi) / 2
    shifted_model = _Shifted(model, middle)
    z = (
        0.05
        * (hi - lo)
        * torch.randn(
            len(target), *image_shape, generator=generator, device=device
        )
    )
    z = z.to(dtype)
    for step in range(1, num_iterations + 1):
        dy, dx = torch.randint(
            -max_jitter,
            max_jitter + 1,
            (2,),
            generator=generator,
            device=device,
        ).tolist()
        z = class_visualization_step(
            shifted_model,
            z.roll((dy, dx), dims=(2, 3)),
            target,
            lr=lr,
            l2_reg=l2_reg,
        ).roll((-dy, -dx), dims=(2, 3))
        z = z.clamp(lo - middle, hi - middle)
        if blur_every and step % blur_every == 0:
            z = _gaussian_blur(z, blur_sigma)
    image = (z + middle).detach()
    return image[0] if single else image


def _visualization_targets(
    model: nn.Module, target, image_shape, device, dtype
) -> tuple[Tensor, bool]:
    """(n,) checked class indices, and whether target was a single int.

    The number of classes is read from one forward pass of an all-zero
    image.
    """
    with torch.no_grad(), _inspection(model):
        probe = torch.zeros(1, *image_shape, device=device, dtype=dtype)
        num_classes = model(probe).shape[1]
    expected = (
        f"an int in [0, {num_classes}) (one image) or a nonempty sequence "
        "of such ints (one image each)"
    )
    t = _target_values(target, "target", expected)
    if t.ndim > 1 or t.numel() == 0:
        raise ValueError(
            f"target must be {expected}, got shape {tuple(t.shape)}"
        )
    n = t.numel()
    return _target_tensor(t, n, num_classes, device), t.ndim == 0


def _check_visualization_args(
    image_shape, num_iterations, blur_every, blur_sigma, max_jitter
) -> None:
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
        raise TypeError(
            f"image_shape must be (C, H, W), three ints >= 1, got "
            f"{image_shape!r}"
        )
    for name, size in zip("CHW", image_shape):
        _validate.integer(f"image_shape ({name})", size)
    _validate.allocation("each image", math.prod(image_shape))
    _validate.integer("num_iterations", num_iterations, minimum=0)
    _validate.integer("blur_every", blur_every, minimum=0)
    _validate.real("blur_sigma", blur_sigma, low=0)
    _validate.integer("max_jitter", max_jitter, minimum=0)
    if 2 * max_jitter >= min(image_shape[1:]):
        raise ValueError(
            f"max_jitter must be below half the image size "
            f"{image_shape[1:]}, got {max_jitter}"
        )


def outer_ring_fraction(maps: Tensor, width: int) -> Tensor:
    """Share of each non-negative map's total in its outer ring: (N,).

    maps: (N, H, W), finite; the ring is every pixel within `width` of the
    border. An all-zero map has no share: NaN (as map_correlations gives
    for a constant map), so that an average over maps shows it.
    """
    _check_maps(maps, "(N, H, W)")
    _validate.finite("maps", maps)
    if bool((maps < 0).any()):
        raise ValueError(
            f"maps must be non-negative, got minimum {maps.min().item()}"
        )
    h, w = maps.shape[1:]
    width = _validate.integer("width", width)
    if 2 * width >= min(h, w):
        raise ValueError(f"width must be below half of {h}x{w}, got {width}")
    inner = maps[:, width : h - width, width : w - width].sum(dim=(1, 2))
    total = maps.sum(dim=(1, 2))
    return torch.where(total > 0, 1 - inner / total, torch.nan)


def map_correlations(maps: Tensor, reference: Target) -> Tensor:
    """Pearson correlation of each image's reference map with each map.

    maps: (N, K, h, w), e.g. Grad-CAM for every class; reference: one index
    in [0, K) per image. Returns (N, K); a constant map gives NaN (no
    correlation is defined).
    """
    _check_maps(maps, "(N, K, h, w)")
    n, k = maps.shape[:2]
    ref = _target_tensor(
        reference,
        n,
        k,
        maps.device,
        name="reference",
        classes=f"maps has K = {k} maps per image",
    )
    flat = maps.flatten(2)
    flat = flat - flat.mean(dim=2, keepdim=True)
    flat = flat / flat.norm(dim=2, keepdim=True)
    chosen = flat[torch.arange(n, device=maps.device), ref]
    return (flat * chosen[:, None]).sum(dim=2)


def _average_ranks(values: Tensor) -> Tensor:
    """Ranks 0..n-1 of a 1-d tensor, ties given the mean of their ranks."""
    _, inverse, counts = torch.unique(
        values, sorted=True, return_inverse=True, return_counts=True
    )
    ends = counts.cumsum(0).to(torch.float64)
    return ((ends - counts + ends - 1) / 2)[inverse]


def rank_correlations(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of a[i] with b[i], each flattened: (N,).

    a, b: (N, ...) of one shape. Ranks tied values by the mean of their
    ranks, then takes Pearson's correlation of the ranks; NaN where a map
    is constant (no correlation is defined). float64.
    """
    for name, t in (("a", a), ("b", b)):
        t = _validate.tensor(name, t, what="a tensor of maps (N, ...)")
        if t.ndim < 2:
            raise TypeError(
                f"{name} must be a tensor of maps (N, ...), got "
                f"{tuple(t.shape)}"
            )
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have one shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    out = []
    for u, v in zip(a.detach().flatten(1), b.detach().flatten(1)):
        ru, rv = _average_ranks(u), _average_ranks(v)
        ru, rv = ru - ru.mean(), rv - rv.mean()
        out.append((ru * rv).sum() / (ru.norm() * rv.norm()))
    return torch.stack(out).cpu()


def _randomizable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's Conv2d and Linear modules, from the output down."""
    layers = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    return layers[::-1]


@torch.no_grad()
def cascading_randomization(
    model: nn.Module, *, generator: torch.Generator | None = None
) -> list[tuple[str, nn.Module]]:
    """Copies of `model` with more and more layers randomised from the top.

    The model-randomisation test of Adebayo et al. (2018), cascading form.
    Copy k (k = 1, ..., L) has the top k of its L Conv2d/Linear layers
    (in the order `named_modules` lists them, output first) re-drawn: each
    parameter p of such a layer becomes std(p) * z, z ~ N(0, 1) from
    `generator` (on the model's device), so the scale of every layer is
    kept and only what was learned is lost. Other modules (BatchNorm and its
    running statistics) are left as trained. Returns [(layer name, copy)];
    the model itself is not changed.
    """
    layers = _randomizable_layers(model)
    if not layers:
        raise ValueError(
            "model has no nn.Conv2d or nn.Linear layer to randomise"
        )
    parameter = next(model.parameters())
    generator = _validate.generator(generator, parameter.device)
    copies, current = [], model
    for name, _ in layers:
        current = copy.deepcopy(current)
        layer = current.get_submodule(name)
        for p in layer.parameters(recurse=False):
            z = torch.randn(
                p.shape, generator=generator, device=p.device, dtype=p.dtype
            )
            std = p.float().std() if p.numel() > 1 else p.abs().float()
            p.copy_(z * std.to(p.dtype))
        copies.append((name, current))
    return copies


def randomization_correlations(
    model: nn.Module,
    method,
    x: Tensor,
    target: Target,
    copies: Sequence[tuple[str, nn.Module]],
) -> Tensor:
    """How much a method's maps survive randomising the model: (L, N).

    method(model, x, target) returns maps (N, H, W) or (N, C, H, W); a map
    is compared as |map| (its largest |value| over channels when it has
    channels). Row k is the Spearman rank correlation (`rank_correlations`)
    of each image's map for the trained model with its map for copies[k]'s
    model, the target kept. A method that explains what the model learned
    should give maps that change (low correlations) once the weights are
    random (Adebayo et al., 2018).
    """
    _check_images(x)

    def absolute(m: Tensor) -> Tensor:
        return m.abs().amax(1) if m.ndim == 4 else m.abs()

    reference = absolute(method(model, x, target))
    rows = [
        rank_correlations(reference, absolute(method(copy_, x, target)))
        for _, copy_ in copies
    ]
    return torch.stack(rows)


def side_by_side(left: Tensor, right: Tensor) -> Tensor:
    """Two-object composites: the middle halves of two images side by side.

    left, right: (N, C, H, W), W even. Column block [W/4, 3W/4) of left[i]
    fills the left half of composite i and that of right[i] the right half:
    (N, C, H, W).
    """
    _check_images(left, "left")
    _check_images(right, "right")
    if left.shape != right.shape:
        raise ValueError(
            f"left and right must have one shape, got {tuple(left.shape)} "
            f"and {tuple(right.shape)}"
        )
    w = left.shape[-1]
    if w % 4:
        raise ValueError(f"the image width must be a multiple of 4, got {w}")
    middle = slice(w // 4, 3 * w // 4)
    return torch.cat([left[..., middle], right[..., middle]], dim=-1)


def own_half_shares(left_maps: Tensor, right_maps: Tensor) -> Tensor:
    """Share of each map's total on its own object's half: (N, 2).

    left_maps: (N, H, W) non-negative maps for the class of the left
    object of `side_by_side` composites, right_maps the same for the right
    object's class (W even). Column 0 is the left map's share in the left
    half, column 1 the right map's share in the right half. A method whose
    map ignores the class gives shares that add up to 1, so both can exceed
    1/2 only when the maps depend on the class.
    """
    shares = []
    for name, maps, side in (("left", left_maps, 0), ("right", right_maps, 1)):
        _check_maps(maps, "(N, H, W)")
        if bool((maps < 0).any()) or maps.shape[-1] % 2:
            raise ValueError(
                f"{name}_maps must be non-negative (N, H, W) maps with W "
                f"even, got shape {tuple(maps.shape)}, minimum "
                f"{maps.min().item()}"
            )
        half = maps.shape[-1] // 2
        part = maps[..., half:] if side else maps[..., :half]
        total = maps.sum(dim=(1, 2)).clamp(min=torch.finfo(maps.dtype).tiny)
        shares.append(part.sum(dim=(1, 2)) / total)
    return torch.stack(shares, dim=1)


def composite_pairs(
    labels: Tensor, shift: int, limit: int
) -> tuple[Tensor, Tensor]:
    """Index pairs for two-object composites of different classes.

    labels: (N,) the class of each candidate image. Pair k joins image i
    with image (i + shift) mod N, for i = 0, ..., N - 1 in order, and is kept
    when the two labels differ; the first `limit` kept pairs are returned as
    two (K,) index tensors (left, right), K <= limit. Different shifts give
    different pairings of the same images.
    """
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or len(labels) < 2:
        raise ValueError(
            f"labels must be a 1-D tensor of at least 2 classes, got shape "
            f"{tuple(labels.shape)}"
        )
    n = len(labels)
    shift = _validate.integer("shift", shift)
    limit = _validate.integer("limit", limit, minimum=1)
    if shift % n == 0:
        raise ValueError(
            f"shift must not be a multiple of len(labels) = {n} (it would "
            f"pair each image with itself), got {shift}"
        )
    left = torch.arange(n, device=labels.device)
    right = (left + shift) % n
    keep = labels[left] != labels[right]
    return left[keep][:limit], right[keep][:limit]


def both_on_own_half(
    model: nn.Module,
    method,
    left: Tensor,
    right: Tensor,
    left_target: Target,
    right_target: Target,
) -> float:
    """Share of composites whose two maps each favour their own object.

    The composites are side_by_side(left, right) (N, C, H, W). method(model,
    x, target) returns maps (N, H, W) or (N, C, H, W), compared as their
    largest |value| over channels. For each composite the map for
    `left_target` and the map for `right_target` are computed; the result
    is the fraction of composites where each puts more than half of its
    total on its own object's half (`own_half_shares`). A method whose map
    ignores the class scores 0, whatever the images.
    """
    x = side_by_side(left, right)

    def magnitude(m: Tensor) -> Tensor:
        return m.abs().amax(1) if m.ndim == 4 else m.abs()

    shares = own_half_shares(
        magnitude(method(model, x, left_target)),
        magnitude(method(model, x, right_target)),
    )
    return (shares > 0.5).all(1).float().mean().item()


def randomization_ends(
    model: nn.Module,
    method,
    x: Tensor,
    target: Target,
    seeds: Sequence[int],
) -> Tensor:
    """The two ends of the cascading randomisation test, per seed: (S, 2).

    For each seed s, `cascading_randomization` with a generator seeded s
    (on the model's device); column 0 is the median over the images of
    `randomization_correlations` for the copy with only the top layer
    random, column 1 for the copy with every layer random. Images whose
    correlation is undefined (a constant map) are left out of the median.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none")
    device = next(model.parameters()).device
    rows = []
    for seed in seeds:
        seed = _validate.integer("seed", seed, minimum=0)
        gen = torch.Generator(device=device).manual_seed(seed)
        copies = cascading_randomization(model, generator=gen)
        ends = [copies[0], copies[-1]]
        r = randomization_correlations(model, method, x, target, ends)
        rows.append(r.nanmedian(1).values)
    return torch.stack(rows)
