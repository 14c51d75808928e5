"""hwlib.check on input gradients (seed 004 §6), gates and neurons, and the
command line."""

import subprocess
import sys
import textwrap

import torch
import torch.nn.functional as F

from hwlib import attribution as attr
from hwlib import check
from hwlib.gates import (
    and_neuron,
    nand_network,
    or_network,
    or_neuron,
    xor_network,
)


def failed(report):
    return [case for case, ok, _ in report.lines if not ok]


def failures(report):
    return " | ".join(d for _, ok, d in report.lines if not ok)


def covers_one_and_several(report):
    cases = " ".join(case for case, _, _ in report.lines)
    return "one image" in cases and "5 images" in cases


# ------------------------------------------------------- hwlib's own pass


def test_hwlib_attribution_passes_on_one_image_and_several():
    step = getattr(
        attr, "class_visualization_step", check._class_visualization_step
    )
    reports = [
        check.check_saliency(attr.saliency_map),
        check.check_guided_backprop(attr.guided_backprop),
        check.check_grad_cam(attr.grad_cam),
        check.check_guided_grad_cam(attr.guided_grad_cam),
        check.check_fooling_image(attr.fooling_image),
        check.check_class_visualization_step(step),
    ]
    for report in reports:
        assert report.passed, report
        assert covers_one_and_several(report), report


def test_small_cnn_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    check.check_saliency(attr.saliency_map)
    check.small_cnn(3)
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------- classic mistakes


def signed_saliency(model, x, target):
    return attr.input_gradient(model, x, target).amax(1)


def loss_saliency(model, x, target):
    x = x.clone().requires_grad_(True)
    t = torch.as_tensor(target).expand(len(x))
    F.cross_entropy(model(x), t).backward()
    return x.grad.abs().amax(1)


def all_targets_saliency(model, x, target):
    x = x.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    return x.grad.abs().amax(1)


def test_saliency_mistakes_are_named():
    report = check.check_saliency(signed_saliency)
    assert len(failed(report)) == 2
    assert "missing absolute value" in failures(report)
    report = check.check_saliency(loss_saliency)
    assert "the gradient of the loss instead of the class score" in failures(
        report
    )
    report = check.check_saliency(all_targets_saliency)
    assert failed(report) == ["5 images, targets [0, 4, 2, 1, 3]"]
    assert "scores.gather(1, target[:, None])" in failures(report)


def test_a_function_that_crashes_on_one_image_fails():
    def batch_only(model, x, target):
        if len(x) == 1:
            raise IndexError("needs two images")
        return attr.saliency_map(model, x, target)

    report = check.check_saliency(batch_only)
    assert failed(report) == ["one image, target 1"]
    assert "raised IndexError: needs two images" in str(report)


def test_guided_backprop_and_grad_cam_mistakes():
    report = check.check_guided_backprop(attr.input_gradient)
    assert "the ordinary gradient" in failures(report)
    report = check.check_guided_backprop(check._deconvnet)
    assert "the deconvnet rule" in failures(report)

    def no_relu(model, layer, x, target):
        acts = []
        handle = layer.register_forward_hook(lambda m, i, o: acts.append(o))
        t = torch.as_tensor(target).expand(len(x))
        score = model(x).gather(1, t[:, None]).sum()
        handle.remove()
        (grads,) = torch.autograd.grad(score, acts[0])
        return (grads.mean((2, 3), keepdim=True) * acts[0]).sum(1).detach()

    report = check.check_grad_cam(no_relu)
    assert "missing the final ReLU" in failures(report)
    report = check.check_grad_cam(lambda m, l, x, t: None)
    assert "got None, expected an array of shape (1, 4, 4)" in str(report)

    def normalised(model, layer, x, target):
        cam = attr.upsample(attr.grad_cam(model, layer, x, target), (8, 8))
        return cam / cam.amax((1, 2), keepdim=True).clamp(min=1e-12)

    report = check.check_grad_cam(normalised)
    assert report.passed and "normalised for display" in str(report)
    report = check.check_guided_grad_cam(
        lambda m, l, x, t: attr.guided_backprop(m, x, t)
    )
    assert "guided backprop alone" in failures(report)
    nearest = check.check_guided_grad_cam(
        lambda m, l, x, t: attr.guided_grad_cam(m, l, x, t, mode="nearest")
    )
    assert nearest.passed and "nearest" in str(nearest)


def test_fooling_image_mistakes():
    def descent(model, x, target):
        x = x.clone().requires_grad_(True)
        t = torch.as_tensor(target).expand(len(x))
        model(x).gather(1, t[:, None]).sum().backward()
        return (x - 0.3 * x.grad / x.grad.norm()).clamp(0, 1).detach()

    report = check.check_fooling_image(descent)
    assert "the target score went down" in failures(report)
    report = check.check_fooling_image(lambda m, x, t: x)
    assert "the image is unchanged" in failures(report)
    report = check.check_fooling_image(
        lambda m, x, t: attr.fooling_image(m, x, t).image * 2
    )
    assert any("values stay in [0, 1]" in c for c in failed(report))
    assert "got None" in str(check.check_fooling_image(lambda m, x, t: None))


def test_class_visualization_step_mistakes():
    ref = check._class_visualization_step

    def flipped(model, image, target, *, learning_rate, l2_reg):
        return ref(
            model, image, target, learning_rate=learning_rate, l2_reg=-l2_reg
        )

    report = check.check_class_visualization_step(flipped)
    assert len(failed(report)) == 2
    assert "the L2 penalty has the wrong sign" in failures(report)

    def whole_batch(model, image, target, **kw):
        return ref(model, image, target, **kw, per_image=False)

    report = check.check_class_visualization_step(whole_batch)
    assert failed(report) == [
        "5 images, targets [0, 4, 2, 1, 3]: the update I_new - I"
    ]
    assert "instead of per image" in failures(report)

    def in_place(model, image, target, **kw):
        image.copy_(ref(model, image, target, **kw))

    assert check.check_class_visualization_step(in_place).passed
    stub = check.check_class_visualization_step(lambda *a, **k: None)
    assert "got None, expected an array of shape (5, 3, 8, 8)" in str(stub)


# ---------------------------------------------------- gates and neurons


def test_gate_checks():
    assert check.check_gate(or_network(), "or").passed
    assert check.check_gate(xor_network(), "xor").passed
    assert check.check_gate(nand_network(), "nand").passed
    and_net = lambda x: torch.minimum(x[:, 0], x[:, 1])  # noqa: E731
    assert check.check_gate(and_net, "and").passed
    report = check.check_gate(or_network(), "and")
    assert not report.passed and "expected <= 0" in str(report)
    sloppy_or = lambda x: torch.relu(x[:, 0] + x[:, 1])  # noqa: E731
    assert not check.check_gate(sloppy_or, "or").passed
    non_strict = lambda x: -x[:, 0] * x[:, 1] + 1e-20  # noqa: E731
    report = check.check_gate(non_strict, "xor")
    assert failed(report) == ["sign of f on the axes (boundary points)"]
    numpy_and = lambda x: x.min(axis=1)  # noqa: E731 - numpy only
    assert check.check_gate(numpy_and, "and").passed
    with torch.device("meta"):  # float32 layers, no global random draws
        float32_or = torch.nn.Sequential(
            torch.nn.Linear(2, 2), torch.nn.ReLU()
        )
    float32_or = float32_or.to_empty(device="cpu")
    with torch.no_grad():
        float32_or[0].weight.copy_(torch.eye(2))
        float32_or[0].bias.zero_()
    summed = lambda x: float32_or(x).sum(1)  # noqa: E731
    assert check.check_gate(summed, "or").passed


def test_threshold_neurons():
    assert check.check_threshold_neuron(*and_neuron(), "and").passed
    assert check.check_threshold_neuron(*or_neuron(), "or").passed
    assert check.check_threshold_neuron([1, 1], -1.5, "and").passed
    report = check.check_threshold_neuron([1, 1], -1, "and")
    assert failed(report) == ["f(0, 1) = 0", "f(1, 0) = 0"]
    assert "on the boundary" in str(report)
    for gate in ("iff", "xor"):
        report = check.check_threshold_neuron([1, 1], -1, gate)
        assert not report.passed
        assert "no (w, b) can pass" in str(report)
        assert "not linearly separable" in str(report)
    assert not check.check_threshold_neuron([1, 1, 1], 0, "or").passed


# --------------------------------------------------------- command line

STUDENT = textwrap.dedent("""
    import numpy as np

    def softmax_loss(x, y):
        z = x - x.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        n = len(y)
        dx = np.exp(log_p)
        dx[np.arange(n), y] -= 1
        return -log_p[np.arange(n), y].mean(), dx / n

    def summed_loss(x, y):
        loss, dx = softmax_loss(x, y)
        return loss * len(y), dx * len(y)

    and_neuron = ([1.0, 1.0], -1.5)
""")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "hwlib.check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_command_line(tmp_path):
    path = tmp_path / "student.py"
    path.write_text(STUDENT)
    done = run_cli("softmax_loss", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("✓ check_softmax_loss(softmax_loss)")
    done = run_cli("softmax_loss", f"{path}:summed_loss")
    assert done.returncode == 1
    assert "the batch size N = 8" in done.stdout


def test_command_line_in_process(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text(STUDENT)
    assert check.main(["neuron_and", str(path)]) == 0
    builders = tmp_path / "builders.py"
    builders.write_text("from hwlib.gates import and_neuron, or_network\n")
    assert check.main(["neuron_and", str(builders)]) == 0  # a function
    assert check.main(["gate_or", str(builders)]) == 0
    assert check.main(["neuron_or", f"{builders}:or_network"]) == 1
    assert check.main(["neuron_iff", f"{path}:and_neuron"]) == 1
    assert "not linearly separable" in capsys.readouterr().out
    assert check.main(["no_such_topic", str(path)]) == 2
    assert check.main(["softmax_loss", f"{path}:missing"]) == 2
    assert check.main(["softmax_loss", str(tmp_path / "none.py")]) == 2
    assert check.main(["affine", f"{path}:softmax_loss"]) == 2  # needs two
    assert check.main([]) == 2
    capsys.readouterr()
    assert check.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert "affine_forward(x, w, b) -> (out, cache)" in listing
    for topic in check.TOPICS:
        assert topic in listing
