"""Input gradients: right answers pass under every published convention
(named in the report); the classic mistakes fail with a diagnosis."""

import torch
import torch.nn.functional as F

from hwlib import check

from . import students as s
from .helpers import failed, text


def test_student_methods_pass():
    for report in (
        check.check_saliency(s.saliency_map),
        check.check_guided_backprop(s.guided_backprop),
        check.check_grad_cam(s.grad_cam),
        check.check_guided_grad_cam(s.guided_grad_cam),
        check.check_fooling_image(s.fooling_image),
        check.check_class_visualization_step(s.class_visualization_step),
    ):
        assert report.passed, report


def in_train_mode(model, x, target):
    model.train()
    return s.saliency_map(model, x, target)


def averaged(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    model(x).gather(1, t[:, None]).sum().backward()
    return x.grad.abs().mean(1)


def of_probability(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    model(x).softmax(1).gather(1, t[:, None]).sum().backward()
    return x.grad.abs().amax(1)


def ignores_target(model, x, target):
    with torch.no_grad():
        predicted = model(x).argmax(1)
    return s.saliency_map(model, x, predicted)


def one_hot_saliency(model, x, target_one_hot):
    x = x.clone().requires_grad_(True)
    (model(x) * target_one_hot).sum().backward()
    return x.grad.abs().amax(1)


def test_saliency_mistakes_are_named():
    report = check.check_saliency(in_train_mode)
    assert "train() mode" in text(report)
    assert "averaged over the channels" in text(check.check_saliency(averaged))
    assert "softmax probability" in text(check.check_saliency(of_probability))
    assert "target is ignored" in text(check.check_saliency(ignores_target))


def test_one_hot_targets_are_accepted():
    report = check.check_saliency(one_hot_saliency)
    assert report.passed, report
    assert "one-hot" in text(report)


def min_max_per_image(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    lo = cam.flatten(1).min(1).values[:, None, None]
    hi = cam.flatten(1).max(1).values[:, None, None]
    return (cam - lo) / (hi - lo)


def bicubic_over_batch(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    cam = F.interpolate(cam[:, None], size=(8, 8), mode="bicubic")[:, 0]
    return (cam - cam.min()) / (cam.max() - cam.min())


def aligned(model, layer, x, target):
    cam = s.grad_cam(model, layer, x, target)
    return F.interpolate(
        cam[:, None], size=(8, 8), mode="bilinear", align_corners=True
    )[:, 0]


def test_grad_cam_conventions_are_accepted_and_named():
    report = check.check_grad_cam(min_max_per_image)
    assert report.passed and "min-max normalised per image" in text(report)
    report = check.check_grad_cam(bicubic_over_batch)
    assert (
        report.passed
        and "bicubic" in text(report)
        and "over the batch" in text(report)
    )
    report = check.check_grad_cam(aligned)
    assert report.passed and "align_corners=True" in text(report)


def test_grad_cam_mistakes():
    report = check.check_grad_cam(
        lambda model, layer, x, t: torch.zeros(len(x), 4, 4)
    )
    assert failed(report) == [
        "one image, target 1",
        "5 images, targets [0, 4, 2, 1, 3]",
    ]

    def absolute(model, layer, x, target):
        saved = {}
        h = layer.register_forward_hook(
            lambda m, i, o: saved.setdefault("a", o)
        )
        scores = model(x)
        h.remove()
        t = torch.as_tensor(target).expand(len(x))
        (g,) = torch.autograd.grad(
            scores.gather(1, t[:, None]).sum(), saved["a"]
        )
        return (
            (g.mean((2, 3), keepdim=True) * saved["a"]).sum(1).abs().detach()
        )

    assert "|.| instead of the final ReLU" in text(
        check.check_grad_cam(absolute)
    )


def first_target_only(model, x, target):
    target = torch.as_tensor(target).expand(len(x))
    return s.fooling_image(model, x, target[0].expand(len(x)))


def unclipped(model, x, target, lr=0.05):
    x = x.clone()
    t = torch.as_tensor(target).expand(len(x))
    for _ in range(200):
        x.requires_grad_(True)
        scores = model(x)
        if (scores.argmax(1) == t).all():
            break
        (g,) = torch.autograd.grad(scores.gather(1, t[:, None]).sum(), x)
        x = (x + lr * g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)).detach()
    return x.detach() - 0.01  # shifted below 0: no clipping


def test_fooling_images():
    report = check.check_fooling_image(first_target_only)
    assert not report.passed
    assert "first target" in text(report)
    report = check.check_fooling_image(unclipped)
    assert report.passed, report
    assert "not clipped" in text(report)
    report = check.check_fooling_image(lambda model, x, target: x)
    assert "unchanged" in text(report)


def cs231n_step(model, image, target, *, learning_rate, l2_reg):
    image = image.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(image))
    score = model(image).gather(1, t[:, None]).sum()
    (g,) = torch.autograd.grad(score - l2_reg * (image**2).sum(), image)
    return (image + learning_rate * g).detach()


def test_class_visualisation_step():
    report = check.check_class_visualization_step(cs231n_step)
    assert report.passed and "not divided by ||g||" in text(report)
    report = check.check_class_visualization_step(
        lambda model, image, target, lr, l2_reg: image.clone()
    )
    assert "the image is unchanged" in text(report)
