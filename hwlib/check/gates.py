"""Gates as ReLU networks (MIT Q7) and threshold neurons (GT §2): truth
tables written here, networks evaluated exactly in rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from .calling import FAILED, Topic, call_named, guarded
from .compare import as_tensor, fmt, shape_of, short
from .regions import evaluate, layers_of
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
    """Exact values for a network of the course's form, else its floats."""
    read = layers_of(net_or_fn)
    if read is not None and read[1] == "relu":
        return [evaluate(*read, [p, q])[0] for p, q in points]
    x = torch.tensor(
        [[float(p), float(q)] for p, q in points], dtype=torch.float64
    )
    out = report.run("evaluate on the grid", _outputs, net_or_fn, x)
    return None if out is FAILED else out.tolist()


@guarded
def check_gate(net_or_fn, gate: str) -> Report:
    """A ReLU network R^2 -> R: hwlib's FeedForwardNetwork (or any object
    with .weights, .biases, .activation = "relu") or an nn.Sequential of
    Linear and ReLU layers.

    "and", "or", "xor": f(x) > 0 exactly where the gate holds (SIGN_RULES),
    on every linear region of the plane (an LP per region), and at exact
    points of a grid containing the axes, points 1e-9 away and
    far points (up to 1e6)
    (a network is evaluated exactly in rational arithmetic); anything that
    is not a ReLU network fails, named as such. "nand": the value on
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
    report.add(
        "a ReLU network",
        read is not None and read[1] == "relu" and len(read[0][-1][0]) == 1,
        ""
        if read is not None
        else f"{name_of(net_or_fn)} is not a ReLU network "
        "(the question asks for one: linear layers and ReLUs, e.g. "
        "hwlib.networks.FeedForwardNetwork or "
        "nn.Sequential(Linear, ReLU, ...))",
    )
    if gate == "nand":
        _check_nand(report, net_or_fn)
        return report
    points = [(p, q) for p in _grid() for q in _grid()]
    values = _values(report, net_or_fn, points)
    if values is not None:
        _sign_lines(report, points, values, SIGN_RULES[gate])
    if read is not None and read[1] == "relu" and len(read[0][-1][0]) == 1:
        _plane_line(report, read[0], gate)
    return report


def _plane_line(report, layers, gate) -> None:
    """Every linear region of the plane, by LP (not only the grid)."""
    found = plane_violation(layers, gate)
    detail = "every linear region of the plane"
    if found is not None:
        point, (s1, s2) = found
        p, q = (Fraction(v).limit_denominator(10**6) for v in point)
        value = evaluate(layers, "relu", [p, q])[0]
        want = "> 0" if SIGN_RULES[gate](s1, s2) else "<= 0"
        r1, r2 = (">" if v > 0 else "<" for v in (s1, s2))
        where = f"x1 {r1} 0, x2 {r2} 0"
        detail = (
            f"f({fmt(p)}, {fmt(q)}) = {fmt(value)} (at or near that point): "
            f"where {where} the rule wants f {want}, and a linear region of "
            "the network there breaks it"
        )
    report.add("sign of f on the whole plane", found is None, detail)


def separable(labels) -> bool:
    """Whether one threshold unit gives these labels on CORNERS: an LP for
    (w, b) with (2y - 1)(w·x + b) >= 1."""
    rows = [
        [-(2 * y - 1) * v for v in (*x, 1)] for x, y in zip(CORNERS, labels)
    ]
    lp = linprog(
        np.zeros(3), A_ub=rows, b_ub=-np.ones(4), bounds=[(None, None)] * 3
    )
    return lp.status == 0


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
            "builds it); f > 0 where the gate is true (MIT Q7)",
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


# ----------------------------------------- every linear region, by LP


def _largest_slack(a_ub, b_ub) -> tuple[np.ndarray, float]:
    """The point of {x : a_ub x <= b_ub} in R^2 farthest inside it, and
    its slack (LP: the largest t <= 1 with a_ub x + t <= b_ub)."""
    rows = [[*row, 1.0] for row in a_ub]
    lp = linprog(
        [0, 0, -1],
        A_ub=rows,
        b_ub=b_ub,
        bounds=[(None, None), (None, None), (None, 1)],
    )
    if lp.status != 0:
        return np.zeros(2), -np.inf
    return lp.x[:2], -lp.fun


def _interior(a_ub, b_ub) -> bool:
    """Whether {x : a_ub x <= b_ub} in R^2 has an interior."""
    return not a_ub or _largest_slack(a_ub, b_ub)[1] > 1e-9


def _regions(layers):
    """(a_ub, b_ub, slope, intercept, quadrant) for every region of R^2
    with an interior on which the ReLU network is affine (split by the
    axes too): each hidden neuron's line splits the regions, then the
    layer's activation pattern is read at a point inside each."""
    regions = []
    for s1 in (1, -1):
        for s2 in (1, -1):
            rows, rhs = [[-s1, 0.0], [0.0, -s2]], [0.0, 0.0]
            regions.append((rows, rhs, np.eye(2), np.zeros(2), (s1, s2)))
    for w, b in layers[:-1]:
        w, b = np.array(w, dtype=float), np.array(b, dtype=float)
        for j in range(len(b)):
            split = []
            for a_ub, b_ub, m, c, q in regions:
                pm, pc = w[j] @ m, w[j] @ c + b[j]
                for sign in (1, -1):  # sign * (pm x + pc) >= 0
                    rows = [*a_ub, list(-sign * pm)]
                    rhs = [*b_ub, float(sign * pc)]
                    if _interior(rows, rhs):
                        split.append((rows, rhs, m, c, q))
            regions = split
        applied = []
        for a_ub, b_ub, m, c, q in regions:
            pre_m, pre_c = w @ m, w @ c + b
            on = (pre_m @ _inside(a_ub, b_ub) + pre_c) > 0
            applied.append((a_ub, b_ub, pre_m * on[:, None], pre_c * on, q))
        regions = applied
    w, b = (np.array(v, dtype=float) for v in layers[-1])
    return [
        (a, bb, w[0] @ m, float(w[0] @ c + b[0]), q)
        for a, bb, m, c, q in regions
    ]


def _inside(a_ub, b_ub) -> np.ndarray:
    """A point well inside the region (the largest-slack LP's solution)."""
    return _largest_slack(a_ub, b_ub)[0]


def plane_violation(layers, gate: str):
    """((x1, x2), quadrant signs) where the ReLU network breaks the gate's
    sign rule on the closure of a region of that quadrant, or None.

    Per linear region (found by LP feasibility, in float64: exact up to
    the LP's tolerance), f >= 0 on the closure where the rule holds
    inside, f <= 0 where it does not (an LP each; a region where f is
    unbounded the wrong way gives a far point)."""
    for a_ub, b_ub, slope, icpt, (s1, s2) in _regions(layers):
        want = SIGN_RULES[gate](s1, s2)
        sign = 1 if want else -1  # minimise sign * f
        lp = linprog(
            sign * np.asarray(slope),
            A_ub=a_ub,
            b_ub=b_ub,
            bounds=[(None, None)] * 2,
        )
        if lp.status == 3:  # unbounded: far along a ray
            ray = linprog(
                sign * np.asarray(slope),
                A_ub=a_ub,
                b_ub=b_ub,
                bounds=[(-1e6, 1e6)] * 2,
            )
            return tuple(ray.x), (s1, s2)
        if lp.status == 0 and sign * (slope @ lp.x + icpt) < -1e-9:
            return tuple(lp.x), (s1, s2)
    return None
