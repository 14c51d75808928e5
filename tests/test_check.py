"""hwlib.check: layers, formats, diagnoses, conv matrices, regions,
input gradients (seed 004 §6), gates and neurons, and the command line."""

import inspect
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse
import sympy
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, GuidedGradCam, LayerGradCam, Saliency
from conftest import count_regions_by_sampling, one_hot_conv_matrix

from hwlib import attribution as attr
from hwlib import check
from hwlib.backprop import residual_relu_forward, residual_relu_grad
from hwlib.gates import (
    and_neuron,
    nand_network,
    or_network,
    or_neuron,
    xor_network,
)
from hwlib.nn import CrossEntropyLoss, Linear, ReLU
from hwlib.regions import count_identified_regions
from hwlib.review import count_words


def failed(report):
    return [case for case, ok, _ in report.lines if not ok]


def text_of_failures(report):
    return " | ".join(d for _, ok, d in report.lines if not ok)


# ---------------------------------------------------------------- classes


class NumpyLinear:
    """A numpy layer (as in many course repositories)."""

    def __init__(self, n_in, n_out):
        self.weight, self.bias = np.zeros((n_out, n_in)), np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x.dot(self.weight.T) + self.bias

    def backward(self, g):
        self.grad_weight = g.T.dot(self.x)
        self.grad_bias = np.sum(g, axis=0)
        return g.dot(self.weight)


class NumpyReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return g * (self.x > 0)


class NumpyUfuncReLU:
    """numpy ufuncs in forward and backward (given torch tensors first)."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return np.multiply(g, self.x > 0)


class NumpyCrossEntropy:
    def forward(self, z, y):
        z = z - np.max(z, axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.p, self.y = np.exp(log_p), y
        return -log_p[np.arange(len(y)), y].mean()

    def backward(self):
        g = self.p.copy()
        g[np.arange(len(self.y)), self.y] -= 1
        return g / len(self.y)


def test_hwlib_and_numpy_classes_pass_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = (
            check.check_linear(Linear),
            check.check_relu(ReLU),
            check.check_cross_entropy(CrossEntropyLoss),
            check.check_linear(NumpyLinear),
            check.check_relu(NumpyReLU),
            check.check_relu(NumpyUfuncReLU),
            check.check_cross_entropy(NumpyCrossEntropy),
        )
    assert [str(w.message) for w in caught] == []  # nothing but the report
    for report in reports:
        assert report.passed, report
        assert any(c.startswith("one example") for c, _, _ in report.lines)
        assert any(c.startswith("batch of") for c, _, _ in report.lines)


class BackwardNone(Linear):
    def backward(self, g):
        super().backward(g)


class BackwardPass(ReLU):
    def backward(self, g):
        pass


class NoGradWeight:
    def __init__(self, n_in, n_out):
        pass

    def forward(self, x):
        self.x = x
        return x @ self.weight.T + self.bias

    def backward(self, g):
        self.dW = g.T @ self.x
        self.grad_bias = g.sum(0)
        return g @ self.weight


class LossStub:
    def forward(self, z, y):
        pass

    def backward(self):
        pass


def test_stubs_fail_with_what_was_expected():
    report = check.check_linear(BackwardNone)
    assert not report.passed
    assert "got None, expected an array of shape (4, 5)" in str(report)
    report = check.check_relu(BackwardPass)
    assert all("backward" in case for case in failed(report))
    report = check.check_linear(NoGradWeight)
    assert failed(report) and all("grad_weight" in c for c in failed(report))
    assert "no attribute 'grad_weight' (it has dW, grad_bias); expected " in (
        str(report)
    )
    report = check.check_cross_entropy(LossStub)
    assert "got None, expected a number" in str(report)
    assert len(failed(report)) == len(report.lines)


def test_exceptions_become_failed_lines():
    class Broken:
        def __init__(self, *args):
            raise TypeError("no such argument")

    report = check.check_linear(Broken)
    assert not report.passed
    assert "raised with torch arrays: TypeError: no such argument" in str(
        report
    )


# --------------------------------------------------------------- functions


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    dx = dout.dot(w.T).reshape(x.shape)
    return dx, x.reshape(x.shape[0], -1).T.dot(dout), dout.sum(axis=0)


def torch_affine_forward(x, w, b):
    return x.flatten(1) @ w + b, (x, w)


def torch_affine_backward(dout, cache):
    x, w = cache
    return (dout @ w.T).reshape(x.shape), x.flatten(1).T @ dout, dout.sum(0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    dx = np.exp(log_p)
    dx[np.arange(n), y] -= 1
    return -log_p[np.arange(n), y].mean(), dx / n


def test_functional_interface_numpy_and_torch():
    assert check.check_affine_functions(affine_forward, affine_backward).passed
    assert check.check_affine_functions(
        torch_affine_forward, torch_affine_backward
    ).passed
    assert check.check_relu_functions(relu_forward, relu_backward).passed
    assert check.check_softmax_loss(softmax_loss).passed


def test_functional_stubs_fail():
    report = check.check_affine_functions(affine_forward, lambda d, c: None)
    assert "expected a tuple (dx, dw, db), got None" in str(report)
    report = check.check_affine_functions(
        lambda x, w, b: None, affine_backward
    )
    assert "expected a tuple (out, cache), got None" in str(report)
    report = check.check_relu_functions(relu_forward, lambda d, c: None)
    assert len(failed(report)) == 3 and "got None" in str(report)
    report = check.check_softmax_loss(lambda x, y: (1.0,))
    assert "expected a tuple (loss, dx), got a tuple of 1 items" in str(report)


# --------------------------------------------------------------- diagnosis


class GradWeightOverN(Linear):
    def backward(self, g):
        out = super().backward(g)
        self.grad_weight = self.grad_weight / len(g)
        return out


class GradWeightTransposed(Linear):
    def backward(self, g):
        out = super().backward(g)
        self.grad_weight = self.grad_weight.T
        return out


class LossNotAveraged(CrossEntropyLoss):
    def backward(self):
        return super().backward() * len(self.target)


class ReLUGradOneAtZero(ReLU):
    def forward(self, x):
        self.mask = x >= 0
        return x * self.mask


def test_diagnosis_of_layer_mistakes():
    report = check.check_linear(GradWeightOverN)
    assert failed(report) == ["batch of 4: grad_weight"]  # zero input: 0/N
    assert "a factor of 1/N with N = 4" in text_of_failures(report)
    report = check.check_linear(GradWeightTransposed)
    assert "transposed weights" in text_of_failures(report)
    report = check.check_cross_entropy(LossNotAveraged)
    assert "a factor of the batch size N = 8" in text_of_failures(report)
    report = check.check_relu(ReLUGradOneAtZero)
    assert failed(report) == ["exact zeros: backward"]
    assert "a convention" in str(report)
    assert "PyTorch uses ReLU'(0) = 0" in str(report)


def test_diagnosis_of_functional_mistakes():
    def flipped(x, y):
        loss, dx = softmax_loss(x, y)
        return loss, -dx

    def dw_transposed(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw.T, db

    report = check.check_softmax_loss(flipped)
    assert "the sign is flipped" in text_of_failures(report)
    report = check.check_affine_functions(affine_forward, dw_transposed)
    assert "transposed: dw has shape (M, D)" in text_of_failures(report)


def test_diagnose_helper():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(4, 3, generator=g, dtype=torch.float64)
    assert "factor of 2" in check.diagnose(2 * ref, ref)
    assert "factor of 1/2" in check.diagnose(ref / 2, ref)
    assert "0.37 × expected" in check.diagnose(0.37 * ref, ref)
    assert "batch size N = 4" in check.diagnose(
        4 * ref, ref, {"batch_size": 4}
    )
    assert "sign is flipped" in check.diagnose(-ref, ref.numpy())
    assert "missing absolute value" in check.diagnose(ref, ref.abs())
    assert "transpose" in check.diagnose(ref.T, ref)
    total = ref.sum(0, keepdim=True).expand(4, 3)
    assert "summed over the batch" in check.diagnose(total, ref)
    assert "summed over the batch" in check.diagnose(ref.sum(0), ref)
    square = torch.randn(3, 3, generator=g, dtype=torch.float64)
    assert "transpose" in check.diagnose(square.T.tolist(), square)
    named = {"my explanation": ref + 1}
    assert check.diagnose(ref + 1, ref, {"alternatives": named}) == (
        "my explanation"
    )
    assert check.diagnose(ref + 1, ref) == ""  # nothing classic fits
    assert check.diagnose(None, "garbage") == ""  # never raises


# ----------------------------------------------------------------- formats


def test_compare_reads_every_format():
    ref = torch.tensor([[1.0, 0.0], [-1.4, 2.0]], dtype=torch.float64)
    formats = [
        ref.float(),
        ref.numpy(),
        ref.tolist(),
        scipy.sparse.csr_matrix(ref.numpy()),
        sympy.Matrix([[1, 0], [sympy.Rational(-7, 5), 2]]),
        [torch.tensor([1.0, 0.0]), torch.tensor([-1.4, 2.0])],
    ]
    for answer in formats:
        report = check.Report("formats")
        assert report.compare("case", answer, ref), (answer, report)
    report = check.Report("bad")
    report.compare("none", None, ref)
    report.compare("text", "abc", ref)
    report.compare("nan", [[np.nan, 0], [0, 0]], ref)
    report.compare("shape", [1.0, 2.0], ref)
    assert failed(report) == ["none", "text", "nan", "shape"]
    assert "got None, expected an array of shape (2, 2)" in str(report)
    assert "shape (2,), expected (2, 2)" in str(report)


def test_report_reads_well():
    assert check._fmt(np.float32(-1.4)) == "-1.4"
    assert check._fmt_array(torch.tensor([0.1, -1.4])) == "[0.1, -1.4]"
    report = check.Report("t")
    assert not report.passed and "nothing was checked" in str(report)
    report.add("a", True)
    report.add("b", False, "why")
    first, *rest = str(report).splitlines()
    assert first == "✗ t: 1 of 2 checks failed"
    assert rest == ["  ✓ a", "  ✗ b: why"]


def test_relative_tolerance_for_large_values():
    ref = torch.tensor([1e6, -2e6], dtype=torch.float64)
    report = check.Report("t")
    assert report.compare("float32 noise", ref.float(), ref)
    assert not report.compare("one in 1e4", ref * (1 + 1e-4), ref)


def test_no_check_ever_raises():
    garbage = [None, 42, "text", object(), lambda *a, **k: 1 / 0]
    checks_of_one = [
        check.check_linear,
        check.check_relu,
        check.check_cross_entropy,
        check.check_softmax_loss,
        check.check_saliency,
        check.check_guided_backprop,
        check.check_grad_cam,
        check.check_guided_grad_cam,
        check.check_fooling_image,
        check.check_class_visualization_step,
        check.check_identified_regions,
        check.check_gradient_formula,
    ]
    for fn in checks_of_one:
        for value in garbage:
            report = fn(value)
            assert isinstance(report, check.Report) and not report.passed
    for value in garbage:
        assert not check.check_affine_functions(value, value).passed
        assert not check.check_relu_functions(value, value).passed
        assert not check.check_gate(value, "and").passed
        assert not check.check_gate(value, "bogus").passed
        assert not check.check_threshold_neuron(value, value, "or").passed
        assert not check.check_conv_matrix(value, [[1.0]], (2, 2)).passed
        assert not check.check_conv_matrix([[1.0]], value, (2, 2)).passed
        assert not check.check_kinks(value, value, 0, 1).passed
        if not isinstance(value, str):
            assert not check.check_word_count(value).passed


# ------------------------------------------------------------- conv matrix


def symbols(kh, kw):
    return sympy.Matrix(kh, kw, lambda i, j: sympy.Symbol(f"w{i}{j}"))


def symbolic_answer(kernel, input_size, stride=1, padding=0, flip=False):
    """What a student writes: A with kernel symbols. Built by torch alone:
    kernel entry (a, b) sits where the conv matrix of the one-hot kernel
    E_ab has a 1 (square inputs)."""
    kh, kw = kernel.shape
    k = kernel[::-1, ::-1] if flip else kernel
    n = input_size[0]
    assert input_size == (n, n)
    A = None
    for a in range(kh):
        for b in range(kw):
            one_hot = torch.zeros(kh, kw)
            one_hot[a, b] = 1
            where = one_hot_conv_matrix(one_hot, n, stride, padding)
            term = sympy.Matrix(where.int().tolist()) * k[a, b]
            A = term if A is None else A + term
    return A


def test_symbolic_conv_matrix():
    K = symbols(3, 3)
    A = symbolic_answer(K, (4, 4), 2, 1)
    assert check.check_conv_matrix(A, K, (4, 4), 2, 1).passed
    assert check.check_conv_matrix(A.tolist(), K, (4, 4), 2, 1).passed
    wrong = A.copy()
    wrong[0, 1] = K[0, 0]
    report = check.check_conv_matrix(wrong, K, (4, 4), 2, 1)
    assert "1 of 64 entries wrong: A[0, 1] = w00, expected w12" in str(report)
    flipped = symbolic_answer(K, (4, 4), 2, 1, flip=True)
    report = check.check_conv_matrix(flipped, K, (4, 4), 2, 1)
    assert "the kernel is flipped" in str(report)
    assert not check.check_conv_matrix(None, K, (4, 4)).passed
    assert "(16, 4), expected (4, 16)" in str(
        check.check_conv_matrix(A.T, K, (4, 4), 2, 1)
    )


def test_symbolic_transposed_conv_matrix():
    K = symbols(2, 2)
    # the transposed convolution 2x2 -> 4x4 is the adjoint of the
    # convolution 4x4 -> 2x2 with stride 2
    A = symbolic_answer(K, (4, 4), stride=2).T
    assert A.shape == (16, 4)
    assert check.check_conv_transpose_matrix(A, K, (2, 2), 2).passed
    assert not check.check_conv_transpose_matrix(2 * A, K, (2, 2), 2).passed


@pytest.mark.parametrize("fmt", ["torch", "numpy", "list", "sparse", "sympy"])
def test_numeric_conv_matrix_formats(fmt):
    k = torch.arange(1.0, 10.0).reshape(3, 3)
    A = one_hot_conv_matrix(k, 3, stride=2, padding=1)  # torch alone
    answer = {
        "torch": A,
        "numpy": A.numpy(),
        "list": A.tolist(),
        "sparse": scipy.sparse.csr_matrix(A.numpy()),
        "sympy": sympy.Matrix(A.int().tolist()),
    }[fmt]
    report = check.check_conv_matrix(answer, k.numpy(), (3, 3), 2, 1)
    assert report.passed, report


def test_numeric_conv_matrix_mistakes():
    k = torch.arange(1.0, 10.0).reshape(3, 3)
    flipped = one_hot_conv_matrix(k.flip(0, 1), 3, stride=2, padding=1)
    report = check.check_conv_matrix(flipped, k, (3, 3), 2, 1)
    assert "12 of 36 entries wrong: A[0, 1] = 4, expected 6" in str(report)
    assert "the kernel is flipped" in str(report)
    report = check.check_conv_matrix(torch.zeros(9, 9), k, (3, 3), 2, 1)
    assert "shape (9, 9), expected (4, 9)" in str(report)
    k2 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    # the transposed convolution 2x2 -> 4x4 is the adjoint of the
    # convolution 4x4 -> 2x2 (stride 2)
    good = one_hot_conv_matrix(k2, 4, stride=2).T
    assert check.check_conv_transpose_matrix(good, k2, (2, 2), 2).passed
    assert not check.check_conv_transpose_matrix(
        2 * good, k2, (2, 2), 2
    ).passed


def test_conv_matrix_one_tolerance():
    """Entries and A @ x agree: an answer never both fails and passes."""
    k = torch.tensor([[1.0, -1.4], [2.5, 0.3]])
    A = one_hot_conv_matrix(k, 4)
    report = check.check_conv_matrix(A.float(), k, (4, 4))  # float32 noise
    assert report.passed and len(report.lines) == 2
    slightly_off = A.clone()
    slightly_off[0, 0] += 1e-3
    report = check.check_conv_matrix(slightly_off, k, (4, 4))
    assert [ok for _, ok, _ in report.lines] == [False]


# ------------------------------------------------ regions, formulas, words


def test_identified_regions_check_against_a_brute_force_counter():
    """The check's reference is count_identified_regions; an independent
    counter (dense sampling, test_regions) passes, wrong ones fail."""
    report = check.check_identified_regions(count_regions_by_sampling)
    assert report.passed, report
    assert len(report.lines) == 9  # 6 fold stacks and 3 one-d chains

    def every_piece(layers):  # forgets that the image must cover the box
        return count_regions_by_sampling(layers, require_cover=False)

    def one_too_many(layers):
        return count_regions_by_sampling(layers) + 1

    assert failed(check.check_identified_regions(every_piece)) == [
        "|x / 2| (d=1)"
    ]
    report = check.check_identified_regions(one_too_many)
    assert len(failed(report)) == len(report.lines) == 9
    assert "got 3, expected 2" in str(report)  # |3x - 1|
    assert check.check_identified_regions(count_identified_regions).passed


def test_identified_regions_and_gradient_checks():
    def as_tensor(layers):
        return torch.tensor(count_regions_by_sampling(layers))

    def formula(layers):
        return 2 ** (len(layers) * layers[0][0].shape[0])

    def partial(layers):
        return None if len(layers) > 1 else 2

    def numpy_grad(W, x):  # the seed's closed form, written in numpy
        W, x = np.asarray(W), np.asarray(x)
        y = W @ x
        u = np.maximum(y, 0)
        v = u + W @ u
        return np.outer(v, u) + np.outer((y >= 0) * (v + W.T @ v), x)

    assert check.check_identified_regions(as_tensor).passed
    assert failed(check.check_identified_regions(formula)) == ["|x / 2| (d=1)"]
    assert not check.check_identified_regions(partial).passed
    assert check.check_gradient_formula(residual_relu_grad).passed
    assert check.check_gradient_formula(numpy_grad).passed

    def first_term_only(W, x):
        _, u, v, _ = residual_relu_forward(W, x)
        return torch.outer(v, u)

    assert not check.check_gradient_formula(first_term_only).passed


def test_kinks_and_word_count_checks():
    from hwlib.networks import FeedForwardNetwork

    net = FeedForwardNetwork(
        [[[1.0], [1.0], [1.0]], [[1.0, -2.0, 1.0]]], [[0.0, -1.0, -2.0], [0.0]]
    )
    # relu(x) - 2 relu(x - 1) + relu(x - 2): slopes 0, 1, -1, 0, kinks at
    # 0, 1 and 2
    lines = ["number of kinks", "no kink missing", "no extra points"]
    for right in ([0, 1, 2], np.array([2.0, 0.0, 1.0]), [1 + 1e-12, 0, 2]):
        report = check.check_kinks(right, net, -5, 5)
        assert report.passed and [c for c, _, _ in report.lines] == lines
    report = check.check_kinks([0, 1], net, -5, 5)  # one missing
    assert failed(report) == ["number of kinks", "no kink missing"]
    assert "missing [2]" in str(report) and "not kinks" not in str(report)
    report = check.check_kinks([0, 1, 2, 3], net, -5, 5)  # one extra
    assert failed(report) == ["number of kinks", "no extra points"]
    assert "not kinks: [3]" in str(report) and "missing [" not in str(report)
    report = check.check_kinks([0, 1, 2.5], net, -5, 5)  # both, same count
    assert failed(report) == ["no kink missing", "no extra points"]
    assert "missing [2]" in str(report) and "not kinks: [2.5]" in str(report)
    report = check.check_kinks([0, 1, 2 + 1e-6], net, -5, 5)  # not close
    assert failed(report) == ["no kink missing", "no extra points"]
    assert check.check_word_count("one two three", 3).passed
    assert not check.check_word_count("one two three four", 3).passed
    assert count_words("don't stop: 3.5% state-of-the-art!") == 4
    assert "count_words" not in check.__all__  # it lives in hwlib.review


def covers_one_and_several(report):
    cases = " ".join(case for case, _, _ in report.lines)
    return "one image" in cases and "5 images" in cases


# ------------------------------------------------------- hwlib's own pass


def test_hwlib_attribution_passes_on_one_image_and_several():
    step = attr.class_visualization_step
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


# Independent implementations: Captum for the maps, written-out gradient
# ascent (Captum's input gradient) for the fooling images. The checks'
# references are hwlib.attribution's functions; these do not use them.


def captum_saliency(model, x, target):
    # max over channels of |ds_target/dx| (Saliency takes abs by default)
    return Saliency(model).attribute(x, target=target).amax(1)


def captum_guided_backprop(model, x, target):
    return GuidedBackprop(model).attribute(x, target=target)


def captum_grad_cam(model, layer, x, target):
    # ReLU(sum_k alpha_k A^k) at the layer's resolution
    cam = LayerGradCam(model, layer).attribute(
        x, target=target, relu_attributions=True
    )
    return cam[:, 0]


def captum_grad_cam_upsampled(model, layer, x, target):
    cam = captum_grad_cam(model, layer, x, target)
    return F.interpolate(cam[:, None], x.shape[-2:], mode="bilinear")[:, 0]


def captum_guided_grad_cam(model, layer, x, target):
    # Captum upsamples the Grad-CAM map by nearest neighbour
    return GuidedGradCam(model, layer).attribute(x, target=target)


def captum_guided_grad_cam_bilinear(model, layer, x, target):
    gb = captum_guided_backprop(model, x, target)
    return gb * captum_grad_cam_upsampled(model, layer, x, target)[:, None]


def captum_fooling_image(model, x, target, lr=0.05, steps=200):
    """x <- clip(x + lr g / ||g||, 0, 1) per image, until predicted."""
    t = torch.as_tensor(target).expand(len(x))
    image = x.detach().clone()
    for _ in range(steps):
        with torch.no_grad():
            active = model(image).argmax(1) != t
        if not active.any():
            break
        g = Saliency(model).attribute(image, target=t, abs=False)
        g = g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        image = (image + lr * g * active.view(-1, 1, 1, 1)).clamp(0, 1)
    return image


def test_independent_attribution_implementations_pass():
    reports = [
        check.check_saliency(captum_saliency),
        check.check_guided_backprop(captum_guided_backprop),
        check.check_grad_cam(captum_grad_cam),
        check.check_grad_cam(captum_grad_cam_upsampled),
        check.check_guided_grad_cam(captum_guided_grad_cam),
        check.check_guided_grad_cam(captum_guided_grad_cam_bilinear),
        check.check_fooling_image(captum_fooling_image),
    ]
    for report in reports:
        assert report.passed, report
        assert covers_one_and_several(report), report
    notes = [str(r) for r in reports[3:6]]
    assert "upsampled, bilinear" in notes[0]
    assert "upsampled, nearest" in notes[1]
    assert "upsampled, bilinear" in notes[2]


def test_independent_implementations_of_other_maps_fail():
    """Captum's answers to other questions are not accepted."""

    def unsigned_grad(model, x, target):  # the signed gradient's max
        return Saliency(model).attribute(x, target=target, abs=False).amax(1)

    def cam_of_another_layer(model, layer, x, target):
        return captum_grad_cam(model, model[2], x, target)

    def guided_grad_cam_align_corners(model, layer, x, target):
        cam = captum_grad_cam(model, layer, x, target)
        cam = F.interpolate(
            cam[:, None], x.shape[-2:], mode="bilinear", align_corners=True
        )
        return captum_guided_backprop(model, x, target) * cam

    report = check.check_saliency(unsigned_grad)
    assert "missing absolute value" in text_of_failures(report)
    assert not check.check_guided_backprop(
        lambda m, x, t: Saliency(m).attribute(x, target=t, abs=False)
    ).passed
    assert not check.check_grad_cam(cam_of_another_layer).passed
    assert not check.check_guided_grad_cam(
        guided_grad_cam_align_corners
    ).passed
    report = check.check_fooling_image(
        lambda m, x, t: captum_fooling_image(m, x, t, lr=-0.05)
    )
    assert "the target score went down" in text_of_failures(report)


def test_attribution_checks_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    check.check_saliency(attr.saliency_map)
    check.check_fooling_image(attr.fooling_image)
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
    assert "missing absolute value" in text_of_failures(report)
    report = check.check_saliency(loss_saliency)
    assert (
        "the gradient of the loss instead of the class score"
        in text_of_failures(report)
    )
    report = check.check_saliency(all_targets_saliency)
    assert failed(report) == ["5 images, targets [0, 4, 2, 1, 3]"]
    assert "scores.gather(1, target[:, None])" in text_of_failures(report)


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
    assert "the ordinary gradient" in text_of_failures(report)
    report = check.check_guided_backprop(check._deconvnet)
    assert "the deconvnet rule" in text_of_failures(report)

    def no_relu(model, layer, x, target):
        acts = []
        handle = layer.register_forward_hook(lambda m, i, o: acts.append(o))
        t = torch.as_tensor(target).expand(len(x))
        score = model(x).gather(1, t[:, None]).sum()
        handle.remove()
        (grads,) = torch.autograd.grad(score, acts[0])
        return (grads.mean((2, 3), keepdim=True) * acts[0]).sum(1).detach()

    report = check.check_grad_cam(no_relu)
    assert "missing the final ReLU" in text_of_failures(report)
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
    assert "guided backprop alone" in text_of_failures(report)
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
    assert "the target score went down" in text_of_failures(report)
    report = check.check_fooling_image(lambda m, x, t: x)
    assert "the image is unchanged" in text_of_failures(report)
    report = check.check_fooling_image(
        lambda m, x, t: attr.fooling_image(m, x, t).image * 2
    )
    assert any("values stay in [0, 1]" in c for c in failed(report))
    assert "got None" in str(check.check_fooling_image(lambda m, x, t: None))


def test_class_visualization_step_mistakes():
    ref = check._class_visualization_step

    def flipped(model, image, target, *, lr, l2_reg):
        return ref(model, image, target, lr=lr, l2_reg=-l2_reg)

    report = check.check_class_visualization_step(flipped)
    assert len(failed(report)) == 2
    assert "the L2 penalty has the wrong sign" in text_of_failures(report)

    def whole_batch(model, image, target, **kw):
        return ref(model, image, target, **kw, per_image=False)

    report = check.check_class_visualization_step(whole_batch)
    assert failed(report) == [
        "5 images, targets [0, 4, 2, 1, 3]: the update I_new - I"
    ]
    assert "instead of per image" in text_of_failures(report)

    def in_place(model, image, target, **kw):
        image.copy_(ref(model, image, target, **kw))

    assert check.check_class_visualization_step(in_place).passed
    stub = check.check_class_visualization_step(lambda *a, **k: None)
    assert "got None, expected an array of shape (5, 3, 8, 8)" in str(stub)


def test_class_visualization_step_gets_lr_by_the_name_it_uses():
    """hwlib's (and torch's) lr, or cs231n's learning_rate."""
    ref = check._class_visualization_step

    def with_lr(model, image, target, *, lr, l2_reg):
        return ref(model, image, target, lr=lr, l2_reg=l2_reg)

    def with_learning_rate(model, image, target, *, learning_rate, l2_reg):
        return ref(model, image, target, lr=learning_rate, l2_reg=l2_reg)

    def positional(model, image, target, l2_reg, learning_rate):
        return ref(model, image, target, lr=learning_rate, l2_reg=l2_reg)

    for fn in (with_lr, with_learning_rate, positional):
        report = check.check_class_visualization_step(fn)
        assert report.passed, (fn.__name__, str(report))
    assert check.check_class_visualization_step(
        attr.class_visualization_step
    ).passed

    def too_long(model, image, target, *, learning_rate, l2_reg):
        return ref(model, image, target, lr=2 * learning_rate, l2_reg=l2_reg)

    assert not check.check_class_visualization_step(too_long).passed


def test_fooling_image_gets_a_required_lr_by_the_name_it_uses():
    seen = []

    def with_lr(model, x, target, *, lr):
        seen.append(("lr", lr))
        return attr.fooling_image(model, x, target, lr=lr).image

    def with_learning_rate(model, x, target, learning_rate):
        seen.append(("learning_rate", learning_rate))
        return attr.fooling_image(model, x, target, lr=learning_rate).image

    def with_default(model, x, target, learning_rate=0.04):
        seen.append(("default", learning_rate))
        return attr.fooling_image(model, x, target, lr=learning_rate).image

    for fn in (with_lr, with_learning_rate, with_default):
        report = check.check_fooling_image(fn)
        assert report.passed, (fn.__name__, str(report))
    assert seen == [
        ("lr", 0.05),
        ("lr", 0.05),
        ("learning_rate", 0.05),
        ("learning_rate", 0.05),
        ("default", 0.04),
        ("default", 0.04),
    ]
    assert check.check_fooling_image(attr.fooling_image).passed


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

STUDENT = (
    "import numpy as np\n\n\n"
    + inspect.getsource(softmax_loss)
    + textwrap.dedent("""

        def summed_loss(x, y):
            loss, dx = softmax_loss(x, y)
            return loss * len(y), dx * len(y)

        and_neuron = ([1.0, 1.0], -1.5)
    """)
)


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
