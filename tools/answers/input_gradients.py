"""Gradients with respect to the input (GT §6): the student's code cells.

The model is hwlib.models' small CNN, trained on first use (about two
minutes on a CPU) and cached; the checks run on a tiny random CNN of their
own, so they need neither the data nor this model.
"""

# %% setup
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from hwlib.check import (
    check_class_visualization_step,
    check_fooling_image,
    check_grad_cam,
    check_guided_backprop,
    check_guided_grad_cam,
    check_saliency,
)
from hwlib.data import DeviceData, default_device, load_cifar10
from hwlib.models import last_conv_block, load_or_train_cnn

device = default_device()
data = load_cifar10()  # root: $HWLIB_CIFAR10, else data/
model, record = load_or_train_cnn(DeviceData.from_cifar(data, device))
model.eval()
images = data.test_x[:5].to(device).float() / 255  # (5, 3, 32, 32) in [0, 1]
with torch.no_grad():
    predicted = model(images).argmax(1)  # the class each image is shown for


def target_scores(scores, target):
    """scores (N, classes), target an int or N ints -> scores[n, t_n]: (N,)."""
    t = torch.as_tensor(target, device=scores.device).expand(len(scores))
    return scores.gather(1, t[:, None])[:, 0]


def show(rows, titles):
    """One row of images per entry: (N, H, W) maps or (N, 3, H, W) images."""
    fig, axes = plt.subplots(
        len(rows),
        len(rows[0]),
        squeeze=False,
        figsize=(1.6 * len(rows[0]), 1.7 * len(rows)),
    )
    for row, title, ax_row in zip(rows, titles, axes):
        for item, ax in zip(row.detach().cpu(), ax_row):
            if item.ndim == 3:  # an image: each scaled to [0, 1]
                item = item - item.min()
                item = (item / item.max().clamp(min=1e-12)).permute(1, 2, 0)
            ax.imshow(item, cmap="hot" if item.ndim == 2 else None)
            ax.axis("off")
        ax_row[0].set_title(title, fontsize=8, loc="left")
    plt.show()


# %% attr-6-1
def saliency_map(model, x, target):
    """Saliency maps of a batch of images.

    Inputs:
    - model: a torch module mapping images (N, 3, H, W) to unnormalised
      class scores (N, classes)
    - x: tensor of shape (N, 3, H, W), pixel values in [0, 1]
    - target: an int (one class for all images) or N ints

    Returns:
    - maps: tensor of shape (N, H, W), one saliency map per image
    """
    ### BEGIN SOLUTION
    x = x.detach().clone().requires_grad_(True)
    score = target_scores(model(x), target).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs().amax(dim=1)
    ### END SOLUTION


# %% attr-6-1 check
report = check_saliency(saliency_map)
print(report)


# %% attr-6-1 mistake
def saliency_map(model, x, target):  # signed gradient, no absolute value
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(target_scores(model(x), target).sum(), x)
    return grad.amax(dim=1)


# %% attr-6-1
try:
    show(
        [images, saliency_map(model, images, predicted)],
        ["images", "saliency"],
    )
except NotImplementedError:
    print("write saliency_map above first")


# %% attr-6-2
def guided_backprop(model, x, target):
    """Guided backpropagation of a batch of images.

    Inputs:
    - model: a torch module whose rectifiers are nn.ReLU modules (not
      in-place), images (N, 3, H, W) -> class scores (N, classes)
    - x: tensor of shape (N, 3, H, W)
    - target: an int or N ints

    Returns:
    - grads: tensor of shape (N, 3, H, W)

    Leave the model as you found it (remove any hook you add).
    """

    ### BEGIN SOLUTION
    def positive(module, grad_input, grad_output):
        return (grad_input[0].clamp(min=0),)

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_full_backward_hook(positive) for m in relus]
    try:
        x = x.detach().clone().requires_grad_(True)
        score = target_scores(model(x), target).sum()
        (grad,) = torch.autograd.grad(score, x)
    finally:
        for handle in handles:
            handle.remove()
    return grad
    ### END SOLUTION


# %% attr-6-2 check
report = check_guided_backprop(guided_backprop)
print(report)

# %% attr-6-2
try:
    show(
        [images, guided_backprop(model, images, predicted)],
        ["images", "guided backprop"],
    )
except NotImplementedError:
    print("write guided_backprop above first")


# %% attr-6-3
def grad_cam(model, layer, x, target):
    """Grad-CAM maps at the resolution of a layer.

    Inputs:
    - model: a torch module, images (N, 3, H, W) -> scores (N, classes)
    - layer: a submodule of model whose output has shape (N, K, h, w)
    - x: tensor of shape (N, 3, H, W)
    - target: an int or N ints

    Returns:
    - maps: tensor of shape (N, h, w)
    """
    ### BEGIN SOLUTION
    stored = []
    handle = layer.register_forward_hook(lambda m, i, out: stored.append(out))
    try:
        score = target_scores(model(x.detach()), target).sum()
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(score, stored[0])
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * stored[0].detach()).sum(dim=1))
    ### END SOLUTION


def guided_grad_cam(model, layer, x, target):
    """Guided Grad-CAM: your guided backprop and your Grad-CAM combined.

    Inputs: as grad_cam.

    Returns:
    - maps: tensor of shape (N, 3, H, W)
    """
    ### BEGIN SOLUTION
    cam = grad_cam(model, layer, x, target)[:, None]
    cam = F.interpolate(
        cam, size=x.shape[-2:], mode="bilinear", align_corners=False
    )
    return guided_backprop(model, x, target) * cam
    ### END SOLUTION


# %% attr-6-3 check
report = check_grad_cam(grad_cam)
print(report)

# %% attr-6-3 check
report = check_guided_grad_cam(guided_grad_cam)
print(report)

# %% attr-6-3
try:
    layer = last_conv_block(model)
    show(
        [
            images,
            grad_cam(model, layer, images, predicted),
            guided_grad_cam(model, layer, images, predicted),
        ],
        ["images", "Grad-CAM", "guided Grad-CAM"],
    )
except NotImplementedError:
    print("write grad_cam and guided_grad_cam above first")


# %% attr-6-4
def fooling_image(model, x, target, *, lr=0.05, num_iterations=200):
    """Change each image until the model predicts the target class.

    Inputs:
    - model: a torch module, images (N, 3, H, W) -> scores (N, classes)
    - x: tensor of shape (N, 3, H, W), pixel values in [0, 1]
    - target: an int or N ints, the class each image should be taken for
    - lr: the L2 length of each gradient-ascent step
    - num_iterations: the most steps any image takes

    Returns:
    - fooled: tensor of shape (N, 3, H, W), values in [0, 1]; an image
      stops changing once the model predicts its target
    """
    ### BEGIN SOLUTION
    image = x.detach().clone()
    t = torch.as_tensor(target, device=x.device).expand(len(x))
    for _ in range(num_iterations):
        image.requires_grad_(True)
        scores = model(image)
        active = scores.argmax(1) != t
        if not active.any():
            break
        (grad,) = torch.autograd.grad(target_scores(scores, t).sum(), image)
        with torch.no_grad():
            norms = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
            step = lr * grad / norms.view(-1, 1, 1, 1)
            image = (image + step * active.view(-1, 1, 1, 1)).clamp(0, 1)
    return image.detach()
    ### END SOLUTION


# %% attr-6-4 check
report = check_fooling_image(fooling_image)
print(report)

# %% attr-6-4
try:
    targets = (predicted + 1) % 10
    fooled = fooling_image(model, images, targets)
    show(
        [images, fooled, (fooled - images) * 10 + 0.5],
        ["images", "fooling images", "difference x 10"],
    )
except NotImplementedError:
    print("write fooling_image above first")


# %% attr-6-5
def class_visualization_step(model, image, target, *, lr, l2_reg):
    """One gradient-ascent step of class visualisation.

    Inputs:
    - model: a torch module, images (N, 3, H, W) -> scores (N, classes)
    - image: tensor of shape (N, 3, H, W), the current images
    - target: an int or N ints, the class each image is made for
    - lr: the L2 length of the step
    - l2_reg: the weight of the L2 penalty on the image

    Returns:
    - new_image: tensor of shape (N, 3, H, W), the image after one step
      (the step's length measured per image; no clipping, no blur)
    """
    ### BEGIN SOLUTION
    image = image.detach().clone().requires_grad_(True)
    objective = target_scores(model(image), target).sum()
    objective = objective - l2_reg * (image**2).sum()
    (grad,) = torch.autograd.grad(objective, image)
    norms = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
    return (image + lr * grad / norms.view(-1, 1, 1, 1)).detach()
    ### END SOLUTION


# %% attr-6-5 check
report = check_class_visualization_step(class_visualization_step)
print(report)

# %% attr-6-5
try:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(10, 3, 32, 32, generator=generator).to(device)
    for step in range(100):  # with random shifts and clipping
        image = torch.roll(image, shifts=(step % 3 - 1, step % 2), dims=(2, 3))
        image = class_visualization_step(
            model, image, torch.arange(10), lr=0.5, l2_reg=1e-3
        ).clamp(0, 1)
    show([image], ["one image per class: " + ", ".join(data.classes)])
except NotImplementedError:
    print("write class_visualization_step above first")
