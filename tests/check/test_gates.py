"""Gates as ReLU networks and threshold neurons."""

from fractions import Fraction

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hwlib import check

from .helpers import failed, text


def relu_net(w1, b1, w2, b2):
    """nn.Sequential(Linear, ReLU, Linear) with these float64 weights."""
    with torch.device("meta"):
        net = nn.Sequential(
            nn.Linear(2, len(b1)), nn.ReLU(), nn.Linear(len(b1), 1)
        )
    net = net.to_empty(device="cpu").double()
    with torch.no_grad():
        for layer, w, b in ((net[0], w1, b1), (net[2], w2, b2)):
            layer.weight.copy_(torch.tensor(w, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(b, dtype=torch.float64))
    return net


class Network:
    """The course's FeedForwardNetwork, duck-typed."""

    activation = "relu"

    def __init__(self, weights, biases):
        self.weights = [torch.tensor(w, dtype=torch.float64) for w in weights]
        self.biases = [torch.tensor(b, dtype=torch.float64) for b in biases]

    def __call__(self, x):
        h = x
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            h = torch.relu(h) if i < len(self.weights) - 1 else h
        return h


OR = relu_net([[1, 0], [0, 1]], [0, 0], [[1, 1]], [0])
# xor: relu(x1) + relu(-x1) ... f = min-like: relu(x1 - x2)... use
# f = relu(x1) relu(-x2) region by a product-free form:
# xor sign rule: x1, x2 of opposite signs. f = |x1| + |x2| - |x1 + x2|.
XOR = relu_net(
    [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1]],
    [0] * 6,
    [[1, 1, 1, 1, -1, -1]],
    [0],
)


def test_right_networks_pass_in_both_forms():
    assert check.check_gate(OR, "or").passed, check.check_gate(OR, "or")
    assert check.check_gate(XOR, "xor").passed, check.check_gate(XOR, "xor")
    net = Network([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0]])
    assert check.check_gate(net, "or").passed


def test_a_function_that_is_not_a_relu_network_is_named():
    report = check.check_gate(lambda x: -x[:, 0] * x[:, 1], "xor")
    assert "a ReLU network" in failed(report)
    assert "is not a ReLU network" in text(report)
    report = check.check_gate(lambda x: 1 - x[:, 0] * x[:, 1], "nand")
    assert failed(report) == ["a ReLU network"]


def test_wrong_networks_fail_with_exact_values():
    report = check.check_gate(OR, "and")
    assert not report.passed and "expected <= 0" in text(report)
    # relu(x1) + relu(x2) - 2 relu(x1 - 2.5): f(3, -1) < 0 for "or"
    bad_or = relu_net(
        [[1, 0], [0, 1], [1, 0]], [0, 0, -2.5], [[1, 1, -2]], [0]
    )
    assert not check.check_gate(bad_or, "or").passed
    # values are exact: 0.1 - 0.1 is 0, not float noise
    shifted = relu_net([[1, 0], [0, 1]], [-0.1, -0.1], [[1, 1]], [0.1])
    report = check.check_gate(shifted, "or")
    assert "e-0" not in text(report)


def test_threshold_neurons():
    assert check.check_threshold_neuron([1, 1], -1.5, "and").passed
    assert check.check_threshold_neuron([1, 1], -0.5, "or").passed
    report = check.check_threshold_neuron([1, 1], -1, "and")
    assert failed(report) == ["f(0, 1) = 0", "f(1, 0) = 0"]
    assert "on the boundary" in text(report)
    for gate in ("iff", "xor"):
        report = check.check_threshold_neuron([1, 1], -1, gate)
        assert "not linearly separable" in text(report)
    assert not check.check_threshold_neuron([1, 1, 1], 0, "or").passed


def test_a_bump_between_grid_points_is_found():
    # XOR plus a tent of height 1 on the strip 1/32 < x1 < 3/32 (exact
    # binary fractions), between the grid's ticks 0 and 0.1: positive
    # where xor wants <= 0
    w1 = [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1], *[[1, 0]] * 3]
    b1 = [0] * 6 + [-1 / 32, -2 / 32, -3 / 32]
    w2 = [[1, 1, 1, 1, -1, -1, 32, -64, 32]]
    report = check.check_gate(relu_net(w1, b1, w2, [0]), "xor")
    assert failed(report) == ["sign of f on the whole plane"], report
    assert "where x1 > 0, x2 > 0 the rule wants f <= 0" in text(report)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=6, max_size=6),
    st.lists(st.integers(-2, 2), min_size=3, max_size=3),
    st.lists(st.integers(-2, 2), min_size=3, max_size=3),
    st.integers(-2, 2),
    st.sampled_from(["and", "or", "xor"]),
)
def test_check_gate_agrees_with_exact_signs(w1, b1, w2, b2, gate):
    net = relu_net([w1[:2], w1[2:4], w1[4:]], b1, [w2], [b2])
    report = check.check_gate(net, gate)
    rule = {
        "and": lambda p, q: p > 0 and q > 0,
        "or": lambda p, q: p > 0 or q > 0,
        "xor": lambda p, q: (p < 0 < q) or (q < 0 < p),
    }[gate]
    ticks = [Fraction(k, 4) for k in range(-40, 41)] + [Fraction(10**6)]
    ticks += [-t for t in ticks[-1:]]

    def exact(p, q):  # the network by hand, in fractions
        h = [
            max(Fraction(a) * p + Fraction(b) * q + Fraction(c), 0)
            for (a, b), c in zip([w1[:2], w1[2:4], w1[4:]], b1)
        ]
        return sum(Fraction(v) * x for v, x in zip(w2, h)) + b2

    wrong = any((exact(p, q) > 0) != rule(p, q) for p in ticks for q in ticks)
    if wrong:
        assert not report.passed, report
    if report.passed:
        assert not wrong
