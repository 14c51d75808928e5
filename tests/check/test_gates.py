"""Gates as ReLU networks and threshold neurons. check_gate's whole-plane
verdict is tested against an oracle written here: every activation
pattern x every sign piece, decided by sympy's exact rational LP."""

import itertools
import re
from fractions import Fraction

import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.solvers.simplex import InfeasibleLPError, linprog
from torch import nn

from hwlib import check
from hwlib.check.plane import feasible

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
    assert failed(report) == ["sign of f on the whole plane"]
    assert "the gate wants f <= 0" in text(report)
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


RULES = {
    "and": lambda p, q: p > 0 and q > 0,
    "or": lambda p, q: p > 0 or q > 0,
    "xor": lambda p, q: (p < 0 < q) or (q < 0 < p),
}
"""MIT Q7's sign rules, written again: on an axis x_i > 0 and x_i < 0 are
both false."""
AND = ([[[1, 0], [-1, 0], [1, -1]]], [[0, 0, 0]], [[1, -1, -1]], [0])
OR_ = ([[[1, 0], [0, 1]]], [[0, 0]], [[1, 1]], [0])
XOR_ = (
    [[[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1]]],
    [[0] * 6],
    [[1, 1, 1, 1, -1, -1]],
    [0],
)
XOR4 = (
    [[[1, -1], [-1, 1], [1, 1], [-1, -1]]],
    [[0] * 4],
    [[1, 1, -1, -1]],
    [0],
)
"""(hidden W's, hidden b's, output W, output b): min(x1, x2) for "and",
relu(x1) + relu(x2) for "or", |x1| + |x2| - |x1 + x2| for "xor", and
|x1 - x2| - |x1 + x2| for "xor" in 4 neurons."""


def net_of(spec):
    """nn.Sequential of (hidden W's, hidden b's, output W, output b)."""
    ws, bs, w_out, b_out = spec
    mods = []
    for w, b in zip([*ws, w_out], [*bs, b_out]):
        layer = nn.Linear(len(w[0]), len(w)).double()
        with torch.no_grad():
            layer.weight.copy_(torch.tensor(w, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(b, dtype=torch.float64))
        mods += [layer, nn.ReLU()]
    return nn.Sequential(*mods[:-1])


def _point(rows, known=None):
    """(x1, x2, t) with every row a·x + c >= t (strict rows) or >= 0, t in
    (0, 1], or None: `known` when it fits, else the maximiser of t by
    sympy's exact rational simplex. rows: (a1, a2, c, strict)."""
    if known is not None and all(
        a1 * known[0] + a2 * known[1] + c >= (known[2] if s else 0)
        for a1, a2, c, s in rows
    ):
        return known
    # variables x1+, x1-, x2+, x2-, t >= 0 (sympy's default), x = x+ - x-
    # (its free bounds (None, None) gave wrong answers in sympy 1.14)
    A = sympy.Matrix(
        [[-a1, a1, -a2, a2, int(s)] for a1, a2, c, s in rows]
        + [[0, 0, 0, 0, 1]]
    )
    b = sympy.Matrix([c for *_, c, _ in rows] + [1])
    try:
        low, x = linprog(sympy.Matrix([0, 0, 0, 0, -1]), A, b)
    except InfeasibleLPError:
        return None
    x1, x2, t = (Fraction(str(v)) for v in (x[0] - x[1], x[2] - x[3], x[4]))
    return (x1, x2, t) if low < 0 else None


def oracle_breaks(spec, gate) -> bool:
    """Whether some point breaks the gate's sign rule, by enumeration:
    each of the 9 sign pieces (quadrants, half-axes, origin) x each
    activation pattern of the hidden neurons (depth first, a pattern's
    prefix dropped once its LP is empty), one exact LP in sympy rationals
    per node. Strict rows get a slack: a > 0 as a - t >= 0 with t <= 1
    maximised; the set is non-empty iff the maximum t is > 0. Affine
    functions of x are (a1, a2, c) in fractions."""
    ws, bs, w_out, b_out = spec
    zero = (Fraction(0),) * 3
    neurons = [
        (w[j], b[j], i)
        for i, (w, b) in enumerate(zip(ws, bs))
        for j in range(len(b))
    ]

    def mix(r, bi, h):
        return tuple(
            sum(Fraction(w) * v[k] for w, v in zip(r, h))
            + (Fraction(bi) if k == 2 else 0)
            for k in range(3)
        )

    def walk(rows, known, h, done, todo, signs):
        if not todo:
            f = mix(w_out[0], b_out[0], h)
            neg = tuple(-v for v in f)
            wrong = (*neg, False) if RULES[gate](*signs) else (*f, True)
            return _point([*rows, wrong], known) is not None
        (r, bi, i), rest = todo[0], todo[1:]
        pre = mix(r, bi, h)
        for on in (True, False):
            side = (*pre, False) if on else (*(-v for v in pre), True)
            grown = [*rows, side]
            out = [*done, pre if on else zero]
            nh, nd = (out, []) if not rest or rest[0][2] != i else (h, out)
            point = _point(grown, known)
            if point is not None and walk(grown, point, nh, nd, rest, signs):
                return True
        return False

    x = [
        (Fraction(1), Fraction(0), Fraction(0)),
        (Fraction(0), Fraction(1), Fraction(0)),
    ]
    for signs in itertools.product((1, 0, -1), repeat=2):
        base = []
        for (a1, a2, _), s in zip(x, signs):
            for m in (s,) if s else (1, -1):  # s x_i > 0, or x_i = 0
                base.append((m * a1, m * a2, Fraction(0), bool(s)))
        if walk(base, _point(base), x, [], neurons, signs):
            return True
    return False


def perturbed(draw, base):
    """A copy of base with a few entries changed by small rationals, a row
    zeroed, or a bias put on a line through the origin."""
    ws, bs, w_out, b_out = (
        [[list(r) for r in w] for w in base[0]],
        [list(b) for b in base[1]],
        [list(base[2][0])],
        list(base[3]),
    )
    small = st.sampled_from([-2, -1, Fraction(-1, 2), 0, Fraction(1, 2), 1, 2])
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["w", "b", "zero", "out", "bout"]))
        j = draw(st.integers(0, len(bs[0]) - 1))
        if kind == "w":
            ws[0][j][draw(st.integers(0, 1))] += draw(small)
        elif kind == "b":
            bs[0][j] += draw(small)
        elif kind == "zero":
            ws[0][j], bs[0][j] = [0, 0], 0
        elif kind == "out":
            w_out[0][j] += draw(small)
        else:
            b_out[0] += draw(small)
    return ws, bs, w_out, b_out


@st.composite
def networks(draw):
    gate = draw(st.sampled_from(list(RULES)))
    base = {"and": AND, "or": OR_, "xor": XOR4}[
        draw(st.sampled_from([gate, gate, "and", "or"]))
    ]
    return perturbed(draw, base), gate


@settings(max_examples=40, deadline=None)
@given(networks())
def test_whole_plane_verdict_agrees_with_the_lp_oracle(case):
    spec, gate = case
    report = check.check_gate(net_of(spec), gate)
    plane = dict((c, ok) for c, ok, _ in report.lines)
    assert plane["sign of f on the whole plane"] != oracle_breaks(spec, gate)


def test_the_oracle_and_the_check_agree_on_known_verdicts():
    for spec, gate, breaks in (
        (AND, "and", False),
        (OR_, "or", False),
        (XOR4, "xor", False),
        (XOR_, "and", True),
        (OR_, "and", True),
        (AND, "or", True),
    ):
        assert oracle_breaks(spec, gate) == breaks
        assert check.check_gate(net_of(spec), gate).passed != breaks


def reported_point(report):
    """(p, q, value) of the whole-plane line, as exact fractions."""
    line = dict((c, d) for c, _, d in report.lines)
    found = re.match(
        r"f\((\S+), (\S+)\) = (\S+), but", line["sign of f on the whole plane"]
    )
    return tuple(Fraction(v) for v in found.groups())


def exact_f(spec, p, q):
    """The network at (p, q) by hand, in fractions."""
    ws, bs, w_out, b_out = spec
    h = [p, q]
    for w, b in zip(ws, bs):
        h = [
            max(sum(Fraction(c) * v for c, v in zip(r, h)) + Fraction(bi), 0)
            for r, bi in zip(w, b)
        ]
    return sum(Fraction(c) * v for c, v in zip(w_out[0], h)) + Fraction(
        b_out[0]
    )


def test_an_off_grid_counter_example_is_an_exact_point():
    # relu(x1) + relu(x2) - 2 relu(x1 - 2.5) is < 0 for "or" when x1 > 5
    spec = ([[[1, 0], [0, 1], [1, 0]]], [[0, 0, -2.5]], [[1, 1, -2]], [0])
    report = check.check_gate(net_of(spec), "or")
    assert failed(report) == ["sign of f on the whole plane"], report
    p, q, value = reported_point(report)
    assert value == exact_f(spec, p, q) < 0 and p > 5
    assert "the gate wants f > 0" in text(report)


def test_grid_passes_but_the_plane_fails_a_narrow_bump():
    # mutation: XOR plus a tent of height 1 on 1/32 < x1 < 3/32 (between
    # the grid's ticks 0 and 0.1): right on every point of the grid (what
    # a function that is not a network gets), wrong on the whole plane
    hidden = [*XOR_[0][0], *[[1, 0]] * 3]
    spec = (
        [hidden],
        [[0] * 6 + [-1 / 32, -2 / 32, -3 / 32]],
        [[1, 1, 1, 1, -1, -1, 32, -64, 32]],
        [0],
    )
    grid = check.gates._grid()  # the grid, exactly: nothing wrong on it
    assert not any(
        (exact_f(spec, p, q) > 0) != RULES["xor"](p, q)
        for p in grid
        for q in grid
    )
    report = check.check_gate(net_of(spec), "xor")
    assert failed(report) == ["sign of f on the whole plane"], report
    p, q, value = reported_point(report)
    assert (
        Fraction(1, 32) < p < Fraction(3, 32)
        and value == exact_f(spec, p, q) > 0
    )
    assert "x1 > 0, x2 > 0 the gate wants f <= 0" in text(report)


def test_a_network_wrong_only_on_a_half_axis_fails():
    # "or": relu(x2) + min(relu(x1), |x2|) is 0 on the half-axis x1 > 0,
    # x2 = 0 and right everywhere else. (For "and" no ReLU network can be
    # wrong only on an axis: f > 0 there is f > 0 nearby, by continuity.)
    spec = (
        [[[1, 0], [0, 1], [0, -1]], [[1, 0, 0], [1, -1, -1], [0, 1, 0]]],
        [[0, 0, 0], [0, 0, 0]],
        [[1, -1, 1]],
        [0],
    )
    assert oracle_breaks(spec, "or")
    report = check.check_gate(net_of(spec), "or")
    assert "sign of f on the whole plane" in failed(report)
    p, q, value = reported_point(report)
    assert p > 0 and q == 0 and value == exact_f(spec, p, q) == 0
    assert "where x1 > 0, x2 = 0 the gate wants f > 0" in text(report)


def test_degenerate_networks():
    zero = ([[[0, 0], [0, 0]]], [[0, 0]], [[0, 0]], [0])
    for (
        gate
    ) in RULES:  # f = 0 is wrong for every gate (each wants f > 0 somewhere)
        assert not check.check_gate(net_of(zero), gate).passed
    # OR with a dead zero row and a neuron whose line is an axis: still right
    spec = ([[[1, 0], [0, 1], [0, 0]]], [[0, 0, 0]], [[1, 1, 5]], [0])
    assert check.check_gate(net_of(spec), "or").passed
    two_layers = ([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0]], [[1]], [0])
    assert check.check_gate(net_of(two_layers), "or").passed


def test_networks_of_the_wrong_form_are_named():
    report = check.check_gate(net_of(([[[1, 0, 0]]], [[0]], [[1]], [0])), "or")
    assert failed(report)[0] == "a ReLU network" and "2 inputs" in text(report)
    report = check.check_gate(
        net_of(([[[1, 0]]], [[0]], [[1], [1]], [0, 0])), "or"
    )
    assert "one output" in text(report)


def test_feasible_is_exact_on_strict_and_non_strict_rows():
    one = Fraction(1)
    assert feasible([((one,), 0, False), ((-one,), 0, False)], 1) == (0,)
    assert feasible([((one,), 0, True), ((-one,), 0, False)], 1) is None
    # 1/3 < u < 1/2: the simplest point is 2/5
    assert feasible(
        [((3 * one,), -one, True), ((-2 * one,), one, True)], 1
    ) == (Fraction(2, 5),)
    # x + y > 1, x < 0, y < 0 is empty; x + y >= 1, x >= 1, y >= 0 is not
    assert (
        feasible(
            [
                ((one, one), -one, True),
                ((-one, 0), 0, True),
                ((0, -one), 0, True),
            ],
            2,
        )
        is None
    )
    assert feasible(
        [
            ((one, one), -one, False),
            ((one, 0), -one, False),
            ((0, one), 0, False),
        ],
        2,
    ) == (1, 0)


def test_separable_agrees_with_brute_force_on_all_16_tables():
    grid = [Fraction(k, 2) for k in range(-6, 7)]
    for labels in itertools.product((0, 1), repeat=4):
        brute = any(
            all(
                (w1 * a + w2 * b + c >= 0) == y
                for (a, b), y in zip(check.gates.CORNERS, labels)
            )
            for w1 in grid
            for w2 in grid
            for c in grid
        )
        assert check.gates.separable(labels) == brute


def test_other_activations_and_oversized_networks_are_named():
    net = Network([[[1, 0], [0, 1]], [[1, 1]]], [[0, 0], [0]])
    net.activation = "abs"
    report = check.check_gate(net, "or")
    assert "its activation is 'abs'" in text(report)
    n = check.gates.MAX_HIDDEN + 1
    big = ([[[1, 0]] * n], [[0] * n], [[1] * n], [0])
    report = check.check_gate(net_of(big), "or")
    assert failed(report) == ["sign of f on the whole plane"]
    assert f"not decided: {n} hidden neurons" in text(report)
