"""Gates as ReLU networks (MIT Q7) and threshold neurons (GT §2): truth
tables written here, a network's sign decided exactly on the whole plane
(hwlib.check.plane, rational arithmetic)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import Tensor

from .calling import FAILED, Topic, call_named, guarded
from .compare import as_tensor, fmt, shape_of, short
from .plane import feasible, violations
from .regions import layers_of
from .report import Report, name_of

TRUTH = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "iff": (1, 0, 0, 1),
}
"""Each gate's outputs on (0,0), (0,1), (1,0), (1,1)."""
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))

SIGN_RULES = {
    "and": lambda p, q: p > 0 and q > 0,
    "or": lambda p, q: p > 0 or q > 0,
    "xor": lambda p, q: (p < 0 < q) or (q < 0 < p),
}
"""Where a sign-encoded network must be > 0 (MIT Q7, eqs. (1)-(2)): "x_i"
means x_i > 0, "not x_i" means x_i < 0; on an axis neither holds."""


def _outputs(net_or_fn, x: Tensor) -> Tensor:
    """The output for each point as float64 (N,): called with a float64
    torch batch, else float32 (torch.nn.Linear's default), else numpy."""
    error = None
    for batch in (x, x.float(), x.numpy()):
        try:
            given = (
                batch.copy()
                if isinstance(batch, np.ndarray)
                else batch.clone()
            )
            out = as_tensor(call_named(name_of(net_or_fn), net_or_fn, given))
            if out.numel() == len(x):
                return out.reshape(len(x))
            error = ValueError(
                f"expected one output per point ({len(x)}), "
                f"got shape {shape_of(out)}"
            )
        except Exception as err:  # re-raised
            error = error or err
    raise error


def _check_nand(report: Report, net_or_fn) -> None:
    x = torch.tensor(CORNERS, dtype=torch.float64)
    out = report.run("evaluate on {0,1}^2", _outputs, net_or_fn, x)
    if out is FAILED:
        return
    for (a, b), value, want in zip(CORNERS, out.tolist(), TRUTH["nand"]):
        report.add(
            f"NAND({a}, {b}) = {want}",
            abs(value - want) < 1e-9,
            f"got {fmt(value)}",
        )


def _grid() -> list[Fraction]:
    ticks = {Fraction(k, 10) for k in range(-20, 21)}
    far = {Fraction(s * v) for s in (1, -1) for v in (3, 5, 10, 100, 10**6)}
    return sorted(ticks | far | {Fraction(1, 10**9), Fraction(-1, 10**9)})


def _sign_lines(report, points, values, rule) -> None:
    on_axes = [p == 0 or q == 0 for p, q in points]
    for name, where in (
        ("off the axes", False),
        ("on the axes (boundary points)", True),
    ):
        chosen = [i for i, a in enumerate(on_axes) if a == where]
        wrong = [i for i in chosen if (values[i] > 0) != rule(*points[i])]
        detail = f"{len(wrong)} of {len(chosen)} points wrong"
        if wrong:
            (p, q), i = points[wrong[0]], wrong[0]
            want = "> 0" if rule(p, q) else "<= 0"
            at = f"f({fmt(p)}, {fmt(q)})"
            detail += f"; e.g. {at} = {fmt(values[i])}, expected {want}"
        report.add(f"sign of f {name}", not wrong, detail)


def _values(report, net_or_fn, points):
    """Its float64 values on the points (it is called as it is), or None
    when the call failed (reported)."""
    x = torch.tensor(
        [[float(p), float(q)] for p, q in points], dtype=torch.float64
    )
    out = report.run("evaluate on the grid", _outputs, net_or_fn, x)
    return None if out is FAILED else out.tolist()


def _form_problem(read, name: str) -> str:
    """'' for a ReLU network R^2 -> R with consistent layer sizes, else
    what is wrong with it."""
    if read is None:
        return (
            f"{name} is not a ReLU network (the question asks for one: "
            "linear layers and ReLUs, e.g. hwlib.networks.FeedForwardNetwork"
            " or nn.Sequential(Linear, ReLU, ...))"
        )
    layers, activation = read
    if activation != "relu":
        return f"its activation is {activation!r}; the question asks for ReLU"
    width = 2
    for i, (w, b) in enumerate(layers):
        if not w or any(len(row) != width for row in w) or len(b) != len(w):
            return (
                f"layer {i + 1} does not take {width} inputs (weights "
                f"{len(w)} x {len(w[0]) if w else 0}, bias {len(b)}); "
                "the network maps (N, 2) inputs to (N, 1)"
            )
        width = len(w)
    if width != 1:
        return f"{width} outputs; the network must have one output"
    return ""


@guarded
def check_gate(net_or_fn, gate: str) -> Report:
    """A ReLU network R^2 -> R: hwlib's FeedForwardNetwork (or any object
    with .weights, .biases, .activation = "relu") or an nn.Sequential of
    Linear and ReLU layers.

    "and", "or", "xor": f(x) > 0 exactly where the gate holds (SIGN_RULES),
    decided exactly on the whole plane: every piece on which the network
    is affine and the signs of x1, x2 are fixed (open quadrants, open
    half-axes, the origin) gets one exact Fourier–Motzkin solve for a
    point where the sign is wrong (hwlib.check.plane), reported with its
    exact value. Anything else is named as not a ReLU network, and its
    sign is tested on a grid containing the axes, points 1e-9 away and
    far points (up to 1e6), in float64. "nand": the value on
    {0, 1}^2 must be exactly 1, 1, 1, 0.
    """
    report = Report(f"check_gate({name_of(net_or_fn)}, {gate!r})")
    if gate not in (*SIGN_RULES, "nand"):
        report.add(
            "gate name",
            False,
            f"expected one of {[*SIGN_RULES, 'nand']}, got {gate!r}",
        )
        return report
    read = layers_of(net_or_fn)
    problem = _form_problem(read, name_of(net_or_fn))
    report.add("a ReLU network", not problem, problem)
    if gate == "nand":
        _check_nand(report, net_or_fn)
        return report
    if not problem:  # decided exactly: a grid would add nothing
        _plane_line(report, read[0], gate)
        return report
    points = [(p, q) for p in _grid() for q in _grid()]
    values = _values(report, net_or_fn, points)
    if values is not None:
        _sign_lines(report, points, values, SIGN_RULES[gate])
    return report


MAX_HIDDEN = 16
"""The exact whole-plane test's size limit (hidden neurons in all)."""


def _show(v: Fraction) -> str:
    """An exact number as 6, -2.5 or 1/3; one with a long denominator
    (from float weights) as ≈ 0.233447."""
    if v.denominator == 1 or 10**6 % v.denominator == 0:
        return f"= {fmt(v)}" if abs(v) < 1e6 else f"= {v}"
    if v.denominator <= 10**6:
        return f"= {v}"
    return f"≈ {fmt(v)}"


def _where(signs) -> str:
    names = {1: "> 0", -1: "< 0", 0: "= 0"}
    return ", ".join(f"x{i} {names[s]}" for i, s in zip((1, 2), signs))


def _plane_line(report, layers, gate) -> None:
    """Every piece of the plane, exactly (hwlib.check.plane)."""
    hidden = sum(len(b) for _, b in layers[:-1])
    if hidden > MAX_HIDDEN:
        report.add(
            "sign of f on the whole plane",
            False,
            f"not decided: {hidden} hidden neurons, more than the exact "
            f"test handles ({MAX_HIDDEN}); the question's networks need a "
            "few",
        )
        return
    rule = SIGN_RULES[gate]
    found = violations(layers, rule)
    detail = "exact on every linear piece of the plane, axes included"
    if found:  # a quadrant first, a value strictly wrong first
        (p, q), signs, value = min(found, key=lambda v: (0 in v[1], v[2] == 0))
        want = "> 0" if rule(*signs) else "<= 0"
        detail = (
            f"f({_show(p)[2:]}, {_show(q)[2:]}) {_show(value)}, but where "
            f"{_where(signs)} the gate wants f {want} "
            f"({len(found)} linear pieces break it)"
        )
    report.add("sign of f on the whole plane", not found, detail)


def separable(labels) -> bool:
    """Whether one threshold unit gives these labels on CORNERS: whether
    some (w1, w2, b) has w·x + b >= 0 where the label is 1 and < 0 where
    it is 0 (exact Fourier–Motzkin in 3 variables, hwlib.check.plane)."""
    system = [
        (
            tuple(Fraction(v if y else -v) for v in (*x, 1)),
            Fraction(0),
            not y,
        )
        for x, y in zip(CORNERS, labels)
    ]
    return feasible(system, 3) is not None


def _not_separable_reason(gate: str, labels) -> str:
    diagonal = "1" if labels[0] else "0"
    ge, lt = (">=", "<") if labels[0] else ("<", ">=")
    return (
        f"no (w, b) can pass: {gate.upper()} is not linearly separable. "
        f"f(0,0) = f(1,1) = {diagonal} needs b {ge} 0 and w1 + w2 + b {ge} 0, "
        f"so w1 + w2 + 2b {ge} 0; f(0,1) = f(1,0) = {1 - int(diagonal)} needs "
        f"w2 + b {lt} 0 and w1 + b {lt} 0, so w1 + w2 + 2b {lt} 0: a "
        "contradiction (no line separates the two diagonals of the square)"
    )


def _threshold_rows(report, w: Tensor, b: float, labels) -> None:
    for (x1, x2), want in zip(CORNERS, labels):
        value = float(w[0]) * x1 + float(w[1]) * x2 + b
        got = int(value >= 0)
        note = " (on the boundary: >= 0 counts as 1)" if value == 0 else ""
        report.add(
            f"f({x1}, {x2}) = {want}",
            got == want,
            f"w·x + b = {fmt(value)} gives {got}{note}",
        )


@guarded
def check_threshold_neuron(w, b, gate: str) -> Report:
    """f(x) = 1 if w·x + b >= 0 else 0 on x in {0, 1}^2 against the gate.

    gate: "and", "or", "nand", "nor", "xor" or "iff". For "xor" and "iff"
    the report explains why no (w, b) can pass.
    """
    report = Report(
        f"check_threshold_neuron(w={short(w)}, b={short(b)}, {gate!r})"
    )
    if gate not in TRUTH:
        report.add(
            "gate name", False, f"expected one of {list(TRUTH)}, got {gate!r}"
        )
        return report
    labels = TRUTH[gate]
    if not separable(labels):
        report.add(
            f"{gate.upper()} with one threshold neuron",
            False,
            _not_separable_reason(gate, labels),
        )
        return report
    try:
        w_t, b_f = as_tensor(w).reshape(-1), float(as_tensor(b))
        if w_t.shape != (2,):
            raise ValueError(f"w has {w_t.numel()} entries")
    except Exception as err:  # reported
        report.add(
            "reading w and b",
            False,
            f"expected w with 2 numbers and a number b ({err})",
        )
        return report
    _threshold_rows(report, w_t, b_f, labels)
    return report


def built(obj):
    """obj(), when obj is a function of no required arguments (like a
    builder `or_network`); else obj itself."""
    import inspect

    if not inspect.isfunction(obj):
        return obj
    required = [
        p
        for p in inspect.signature(obj).parameters.values()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return obj if required else call_named(obj.__name__, obj)


def _gate_topic(gate: str):
    def run(obj) -> Report:
        try:
            net = built(obj)
        except BaseException as err:  # reported like any other failure
            report = Report(f"check_gate(..., {gate!r})")
            report.add(
                "building the network", False, f"{type(err).__name__}: {err}"
            )
            return report
        return check_gate(net, gate)

    return run


def _neuron_topic(gate: str):
    def run(pair) -> Report:
        try:
            w, b = built(pair)
        except BaseException as err:  # reported like any other failure
            report = Report(f"check_threshold_neuron(..., {gate!r})")
            report.add(
                "reading (w, b)",
                False,
                f"expected a pair (w, b), or a function returning one ({err})",
            )
            return report
        return check_threshold_neuron(w, b, gate)

    return run


TOPICS = {
    **{
        f"gate_{g}": Topic(
            _gate_topic(g),
            (f"{g}_network",),
            "a ReLU network of x (N, 2) (or a function of no arguments that "
            + (
                "builds it); f = NAND exactly on {0, 1}^2 (MIT Q7c)"
                if g == "nand"
                else "builds it); f > 0 where the gate is true (MIT Q7)"
            ),
        )
        for g in ("and", "or", "xor", "nand")
    },
    **{
        f"neuron_{g}": Topic(
            _neuron_topic(g),
            (f"{g}_neuron",),
            "a pair (w, b), or a function of no arguments returning it; "
            "f(x) = 1 if w·x + b >= 0 (GT §2)",
        )
        for g in ("and", "or", "iff")
    },
}
