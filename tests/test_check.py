import torch

from hwlib import check
from hwlib.attribution import saliency_map
from hwlib.backprop import residual_relu_forward, residual_relu_grad
from hwlib.conv import conv2d_matrix, conv_transpose2d_matrix
from hwlib.gates import nand_network, or_network, xor_network
from hwlib.nn import CrossEntropyLoss, Linear, ReLU
from hwlib.regions import count_identified_regions


class LinearForgetsBias(Linear):
    def backward(self, grad_output):
        out = super().backward(grad_output)
        self.grad_bias = torch.zeros_like(self.grad_bias)
        return out


class ReLUGradOneAtZero(ReLU):
    def forward(self, x):
        self.mask = x >= 0
        return x * self.mask


class NaiveSoftmaxLoss(CrossEntropyLoss):
    def forward(self, logits, target):
        probs = logits.exp() / logits.exp().sum(1, keepdim=True)  # overflows for large logits
        self.probs, self.target = probs, target
        return -probs.log().gather(1, target[:, None]).mean()


def lines_failed(report):
    return [case for case, ok, _ in report.lines if not ok]


def test_right_modules_pass_and_wrong_ones_are_pinpointed():
    assert check.check_linear(Linear).passed
    bad = check.check_linear(LinearForgetsBias)
    assert not bad.passed and all("grad_bias" in case for case in lines_failed(bad))
    assert check.check_relu(ReLU).passed
    bad = check.check_relu(ReLUGradOneAtZero)
    assert lines_failed(bad) == ["exact zeros (gradient 0 there, as in PyTorch): backward"]
    assert check.check_cross_entropy(CrossEntropyLoss).passed
    bad = check.check_cross_entropy(NaiveSoftmaxLoss)
    assert not bad.passed and all("large logits" in case for case in lines_failed(bad))
    assert "✗" in str(bad) and "failed" in str(bad)


def test_exceptions_become_failed_lines():
    class Broken:
        def __init__(self, *args):
            raise TypeError("no such argument")

    report = check.check_linear(Broken)
    assert not report.passed and "raised TypeError: no such argument" in str(report)


def test_gate_checks():
    assert check.check_gate(or_network(), "or").passed
    assert check.check_gate(xor_network(), "xor").passed
    assert check.check_gate(nand_network(), "nand").passed
    sloppy_or = lambda x: torch.relu(x[:, 0] + x[:, 1])  # noqa: E731 - wrong where x1 = -x2 > 0 ...
    assert not check.check_gate(sloppy_or, "or").passed
    weak_xor = lambda x: -x[:, 0] * x[:, 1]  # noqa: E731 - right sign everywhere: correct
    assert check.check_gate(weak_xor, "xor").passed
    non_strict = lambda x: -x[:, 0] * x[:, 1] + 1e-20  # noqa: E731 - positive on the axes: wrong
    report = check.check_gate(non_strict, "xor")
    assert lines_failed(report) == ["sign of f on the axes (boundary points)"]


def test_conv_matrix_checks():
    k = torch.arange(1.0, 10.0).reshape(3, 3)
    assert check.check_conv_matrix(conv2d_matrix(k, (3, 3), 2, 1), k, (3, 3), 2, 1).passed
    flipped = conv2d_matrix(k.flip(0, 1), (3, 3), 2, 1)  # true convolution instead of correlation
    report = check.check_conv_matrix(flipped, k, (3, 3), 2, 1)
    assert "every entry" in lines_failed(report) and "rows [0, 1, 2, 3]" in str(report)
    assert not check.check_conv_matrix(torch.zeros(9, 9), k, (3, 3), 2, 1).passed  # wrong shape
    k2 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert check.check_conv_transpose_matrix(conv_transpose2d_matrix(k2, (2, 2), 2), k2, (2, 2), 2).passed
    assert not check.check_conv_transpose_matrix(conv2d_matrix(k2, (4, 4), 2).T * 2, k2, (2, 2), 2).passed


def test_identified_regions_and_gradient_checks():
    assert check.check_identified_regions(count_identified_regions).passed
    formula = lambda layers: 2 ** (len(layers) * layers[0][0].shape[0])  # noqa: E731
    report = check.check_identified_regions(formula)
    assert lines_failed(report) == ["|x / 2| (d=1)"]
    assert check.check_gradient_formula(residual_relu_grad).passed

    def first_term_only(W, x):
        _, u, v, _ = residual_relu_forward(W, x)
        return torch.outer(v, u)

    assert not check.check_gradient_formula(first_term_only).passed


def test_saliency_check():
    assert check.check_saliency(saliency_map).passed
    assert not check.check_saliency(_signed).passed


def _signed(model, x, target):
    x = x.clone().requires_grad_(True)
    model(x).gather(1, torch.as_tensor(target).expand(len(x))[:, None]).sum().backward()
    return x.grad.amax(1)  # forgot the absolute value


def test_kinks_and_word_count_checks():
    from hwlib.networks import ReLUNetwork

    net = ReLUNetwork([[[1.0], [1.0], [1.0]], [[1.0, -2.0, 1.0]]], [[0.0, -1.0, -2.0], [0.0]])
    assert check.check_kinks([0, 1, 2], net, -5, 5).passed
    report = check.check_kinks([0, 1], net, -5, 5)
    assert lines_failed(report) == ["number of kinks", "no kink missing"] and "missing [2.0]" in str(report)
    assert not check.check_kinks([0, 1, 2, 3], net, -5, 5).passed
    assert check.check_word_count("one two three", 3).passed
    assert not check.check_word_count("one two three four", 3).passed
