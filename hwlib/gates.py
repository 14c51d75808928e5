"""Logic with neurons: ReLU gate networks and threshold units.

Seed 000 Q7 and seed 004 §2. Two kinds of unit appear in the seeds:

* ReLU networks R^2 -> R whose *sign* encodes a gate: f(x) > 0 exactly on
  the points where the gate is true (`or_network`, `xor_network`), or whose
  *value* is the gate on {0, 1}^n (`nand_network`, `boolean_network`);
* the linear threshold unit f(x) = 1 if w^T x + b >= 0 else 0
  (`threshold_unit`), for which `linearly_separable` decides whether a
  labelled point set can be realised at all.

`GATE_RULES` holds the truth rules of the two-input gates by name,
`SIGN_GATE_RULES` where a sign-encoded network must be positive (tested on
`sign_test_grid` by `sign_mistakes`), and `boolean_points(n)` is {0, 1}^n in
the order every function here uses. `nand_circuit_network` compiles any NAND
circuit into a layered ReLU network (`nand_circuit_values` evaluates the
circuit directly).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from . import _validate
from .networks import FeedForwardNetwork

GATE_RULES: dict[str, Callable] = {
    "and": lambda a, b: (a & b) != 0,
    "or": lambda a, b: (a | b) != 0,
    "nand": lambda a, b: (a & b) == 0,
    "nor": lambda a, b: (a | b) == 0,
    "xor": lambda a, b: (a ^ b) != 0,
    "iff": lambda a, b: (a ^ b) == 0,
}
"""Truth rules of two-input gates: name -> rule(a, b).

a and b are bits: bools, 0/1 ints, or bool/integer tensors (elementwise);
the rule returns a bool (a bool tensor for tensors). E.g. with
x = boolean_points(2).int(), GATE_RULES["xor"](x[:, 0], x[:, 1]) is
tensor([False, True, True, False]).
"""

SIGN_GATE_RULES: dict[str, Callable] = {
    "and": lambda x1, x2: (x1 > 0) & (x2 > 0),
    "or": lambda x1, x2: (x1 > 0) | (x2 > 0),
    "xor": lambda x1, x2: ((x1 < 0) & (x2 > 0)) | ((x1 > 0) & (x2 < 0)),
}
"""Sign-encoded gates on R^2: name -> rule(x1, x2), where f(x) > 0 must hold.

A network f: R^2 -> R encodes a gate by its sign: f(x) > 0 exactly where
the rule holds (`or_network`, `xor_network`). A literal "x_i" means
x_i > 0 and "not x_i" means x_i < 0, so on the axes (x_i = 0) neither
literal holds (seed 000 Q7, equations (1) and (2)):

    and: x1 > 0 and x2 > 0
    or:  x1 > 0 or x2 > 0
    xor: (x1 < 0 and x2 > 0) or (x1 > 0 and x2 < 0)

x1 and x2 are numbers or tensors (elementwise); the rule returns a bool
(a bool tensor). Unlike GATE_RULES["xor"] applied to x_i > 0, the sign
rule for xor is false on the axes.
"""

MAX_BOOLEAN_INPUTS = 16
"""boolean_points refuses larger n: {0, 1}^n has 2^n rows."""


def sign_test_grid(lim: float = 3.0, num: int = 121) -> Tensor:
    """Points (N, 2), float64, on which to test a sign-encoded gate.

    The num x num grid of [-lim, lim]^2 with the ticks 0, -1e-9 and 1e-9
    added on each axis: it holds the axes and the origin exactly, where
    the seed's strict inequalities decide, and points a hair away from them.
    Each tick appears once: N = (num + 2)^2 for odd num (0 is already a
    tick), (num + 3)^2 for even num. No tick is a rounding residue of 0
    (a linspace can give -1.7e-16 for 0): at such a point a float64
    network may round a strict sign away, which the grid should not blame
    on the network's construction.
    """
    lim = _validate.real("lim", lim, low=0, low_open=True)
    num = _validate.integer("num", num, minimum=2)
    near_zero = torch.tensor([0.0, -1e-9, 1e-9], dtype=torch.float64)
    # k lim / (num - 1), k = -(num - 1), ..., num - 1 in steps of 2: exactly
    # 0 in the middle for odd num, never a rounding residue like 1e-16
    k = torch.arange(-(num - 1), num, 2, dtype=torch.float64)
    ticks = torch.cat([lim * k / (num - 1), near_zero]).unique()  # sorted
    return torch.cartesian_prod(ticks, ticks)


def sign_mistakes(net: Callable, gate: str, x: Tensor | None = None) -> int:
    """How many points of x where (net(x) > 0) disagrees with the gate.

    net maps points (N, 2) to outputs (N, 1) or (N,); gate is a name of
    SIGN_GATE_RULES; x defaults to sign_test_grid().
    """
    if gate not in SIGN_GATE_RULES:
        raise ValueError(
            f"gate must be one of {sorted(SIGN_GATE_RULES)}, got {gate!r}"
        )
    x = sign_test_grid() if x is None else _points(x)
    with torch.no_grad():
        out = torch.as_tensor(net(x)).reshape(len(x), -1)[:, 0]
    rule = SIGN_GATE_RULES[gate](x[:, 0], x[:, 1])
    return int(((out > 0) != rule).sum())


def boolean_points(n_inputs: int) -> Tensor:
    """All of {0,1}^n as a (2^n, n) float64 tensor, itertools.product order.

    Row k holds the binary digits of k, most significant first:
    (0,0), (0,1), (1,0), (1,1) for n = 2.
    """
    n = _validate.integer("n_inputs", n_inputs)
    if n > MAX_BOOLEAN_INPUTS:
        raise ValueError(
            f"n_inputs must be <= MAX_BOOLEAN_INPUTS = {MAX_BOOLEAN_INPUTS}"
            f" ({{0,1}}^n has 2^n rows), got {n}"
        )
    rows = list(itertools.product([0, 1], repeat=n))
    return torch.tensor(rows, dtype=torch.float64)


def or_network() -> FeedForwardNetwork:
    """2 layers, width 2: f(x) = ReLU(x1) + ReLU(x2) > 0 iff x1 > 0 or x2 > 0.

    Each hidden neuron is positive exactly on its open half-plane; the sum
    of two nonnegative numbers is positive iff one of them is.
    """
    return FeedForwardNetwork(
        [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]]
    )


def xor_network() -> FeedForwardNetwork:
    """3 layers, widths 4 and 4: f(x) > 0 iff x1, x2 have opposite signs.

    That is, (x1 < 0 and x2 > 0) or (x1 > 0 and x2 < 0). Layer 1 splits each
    coordinate into its positive and negative parts, p_i = ReLU(x_i) and
    n_i = ReLU(-x_i). An AND of two strict inequalities is a minimum of two
    nonnegative numbers, min(a, b) > 0 iff a > 0 and b > 0, and for a >= 0
    min(a, b) = ReLU(a) - ReLU(a - b). Layer 2 computes ReLU(p1),
    ReLU(p1 - n2), ReLU(n1), ReLU(n1 - p2), and the output is

        f(x) = min(p1, n2) + min(n1, p2),

    positive exactly when one of the two quadrants holds. On the axes
    p_i = n_i = 0, so f = 0.
    """
    w1 = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]  # p1 n1 p2 n2
    w2 = [
        [1.0, 0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, -1.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, -1.0, 0.0],
    ]
    w3 = [[1.0, -1.0, 1.0, -1.0]]
    return FeedForwardNetwork([w1, w2, w3], [[0.0] * 4, [0.0] * 4, [0.0]])


def nand_network() -> FeedForwardNetwork:
    """NAND on {0, 1}^2: f(x) = 1 - ReLU(x1 + x2 - 1).

    ReLU(x1 + x2 - 1) is 1 on (1, 1) and 0 on the other corners: it is AND.
    """
    return FeedForwardNetwork([[[1.0, 1.0]], [[-1.0]]], [[-1.0], [1.0]])


def _bit(value, where: str) -> int:
    """0 or 1 from a bool, 0/1 number or one-element tensor; else refused."""
    try:
        ok = value in (0, 1)
    except (TypeError, RuntimeError):
        ok = False
    if not ok:
        raise ValueError(f"{where} must be 0/1 or a bool, got {value!r}")
    return int(value == 1)


def _truth_table(fn, n_inputs: int) -> list[int]:
    """The outputs on all of {0,1}^n, in the order of boolean_points(n)."""
    rows = [tuple(r) for r in boolean_points(n_inputs).int().tolist()]
    if isinstance(fn, str):
        if fn not in GATE_RULES or n_inputs != 2:
            raise ValueError(
                f"fn: a gate name needs n_inputs=2 and one of "
                f"{sorted(GATE_RULES)}, got {fn!r} with n_inputs={n_inputs}"
            )
        fn = GATE_RULES[fn]
    if callable(fn):
        return [_bit(fn(*r), f"fn{r}") for r in rows]
    if not isinstance(fn, (Sequence, Tensor, np.ndarray)):
        raise TypeError(
            "fn must be a callable, a gate name or a truth table, got "
            f"{type(fn).__name__}"
        )
    table = list(fn)
    if len(table) != len(rows):
        raise ValueError(
            f"fn: a truth table for {n_inputs} inputs needs {len(rows)} "
            f"entries, got {len(table)}"
        )
    return [
        _bit(v, f"fn (truth table entry {k})") for k, v in enumerate(table)
    ]


def boolean_network(fn, n_inputs: int) -> FeedForwardNetwork:
    """Compile a boolean function of n inputs into a ReLU network of NANDs.

    Args:
        fn: a callable taking n bits and returning 0/1 or a bool; a truth
            table listing the outputs in the order of boolean_points(n); or
            a gate name from GATE_RULES (with n_inputs = 2).
        n_inputs: n.

    A NAND block on inputs a_1..a_m (each 0 or 1) is
    1 - ReLU(a_1 + ... + a_m - (m - 1)); its ReLU neuron computes the AND
    and the affine "1 - ." folds into the next layer. The function is a
    disjunction of its true rows (minterms), and OR = NAND of NANDs:

        layer 1: one neuron per true row r,
                 g_r = ReLU(sum_{r_i=1} x_i + sum_{r_i=0} (1 - x_i) - (n - 1)),
                 which is 1 exactly on x = r;
        layer 2: one neuron, ReLU(1 - sum_r g_r) = NAND over the rows;
        output:  1 - layer 2.

    Width of layer 1: the number of true rows (at least 1: a zero neuron
    stands in for the constant-false function).
    """
    n = _validate.integer("n_inputs", n_inputs)
    table = _truth_table(fn, n)
    rows = boolean_points(n).int().tolist()
    true_rows = [r for r, v in zip(rows, table) if v]
    w1 = [[1.0 if bit else -1.0 for bit in r] for r in true_rows]
    # sum_{r_i=1} x_i + sum_{r_i=0} (1 - x_i) - (n - 1) = w.x + 1 - sum(r)
    b1 = [1.0 - sum(r) for r in true_rows]
    w1, b1 = (w1, b1) if true_rows else ([[0.0] * n], [-1.0])
    return FeedForwardNetwork(
        [w1, [[-1.0] * len(w1)], [[-1.0]]], [b1, [1.0], [1.0]]
    )


def _circuit(circuit, n: int) -> list[tuple[int, int]]:
    """The gates as pairs of earlier wires; refused otherwise."""
    if isinstance(circuit, (str, bytes)) or not hasattr(circuit, "__iter__"):
        raise TypeError(
            "circuit must be a list of pairs (a, b) of wire numbers, got "
            f"{type(circuit).__name__}"
        )
    gates = []
    for g, pair in enumerate(circuit):
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2
        ok = ok and all(
            isinstance(w, int) and not isinstance(w, bool) for w in pair
        )
        if not ok or not all(0 <= w < n + g for w in pair):
            raise ValueError(
                f"circuit[{g}] must be a pair of wire numbers in "
                f"[0, {n + g - 1}] (the inputs and the earlier gates), "
                f"got {pair!r}"
            )
        gates.append((pair[0], pair[1]))
    if not gates:
        raise ValueError("circuit must hold at least one gate, got none")
    return gates


def nand_circuit_values(circuit, n_inputs: int) -> list[int]:
    """The circuit's output on all of {0,1}^n (boolean_points order).

    Wires 0..n-1 are the inputs; gate g is wire n + g, the NAND of the
    two earlier wires circuit[g] = (a, b); the output is the last wire.
    Evaluated gate by gate, with no network: the reference for
    `nand_circuit_network`.
    """
    n = _validate.integer("n_inputs", n_inputs)
    gates = _circuit(circuit, n)
    table = []
    for row in boolean_points(n).int().tolist():
        wires = list(row)
        for a, b in gates:
            wires.append(1 - wires[a] * wires[b])
        table.append(wires[-1])
    return table


def nand_circuit_network(circuit, n_inputs: int) -> FeedForwardNetwork:
    """A layered ReLU network computing a NAND circuit on {0,1}^n.

    Args:
        circuit: gates as pairs (a, b) of wire numbers, as in
            `nand_circuit_values`: gate g is wire n + g = NAND(wire a,
            wire b), a and b < n + g; the output is the last wire.
        n_inputs: n.

    A gate's depth is 1 + the larger depth of its two inputs (inputs have
    depth 0); hidden layer t holds

    * one neuron per gate of depth t, ReLU(v_a + v_b - 1) = AND(v_a, v_b)
      on bits; the gate's value is NAND = 1 - that neuron, an affine map
      folded into the weights and bias of every neuron that reads it;
    * one carry neuron ReLU(v) = v (v a bit, so v >= 0) per wire of depth
      < t that a deeper gate or the output still needs: a layered network
      only connects consecutive layers, and the carries bridge the levels
      a wire skips. Fan-out needs nothing: a neuron feeds any number of
      neurons of the next layer.

    So a circuit of depth D gives D hidden layers, each at most as wide as
    the gates of that depth plus the wires passing it.
    """
    n = _validate.integer("n_inputs", n_inputs)
    gates = _circuit(circuit, n)
    depth = [0] * n
    for a, b in gates:
        depth.append(1 + max(depth[a], depth[b]))
    out, top = len(depth) - 1, max(depth)
    needed = [top + 1 if w == out else 0 for w in range(len(depth))]
    for g, (a, b) in enumerate(gates):
        for w in (a, b):
            needed[w] = max(needed[w], depth[n + g])
    # where each wire is in the current layer: value = s * h[index] + c
    where = {i: (i, 1.0, 0.0) for i in range(n)}
    weights, biases, width = [], [], n
    for t in range(1, top + 1):
        rows, bias, nxt = [], [], {}
        for g, (a, b) in enumerate(gates):
            if depth[n + g] == t:  # AND(a, b) = ReLU(v_a + v_b - 1)
                row, c = [0.0] * width, -1.0
                for w in (a, b):
                    index, s, c0 = where[w]
                    row[index] += s
                    c += c0
                nxt[n + g] = (len(rows), -1.0, 1.0)  # NAND = 1 - AND
                rows.append(row)
                bias.append(c)
        for w, (index, s, c0) in where.items():
            if needed[w] > t:  # carry: ReLU(v_w) = v_w
                row = [0.0] * width
                row[index] = s
                nxt[w] = (len(rows), 1.0, 0.0)
                rows.append(row)
                bias.append(c0)
        weights.append(rows)
        biases.append(bias)
        where, width = nxt, len(rows)
    index, s, c0 = where[out]
    last = [0.0] * width
    last[index] = s
    return FeedForwardNetwork([*weights, [last]], [*biases, [c0]])


def carried_inputs(net: FeedForwardNetwork) -> list[int]:
    """The inputs that a neuron of the first hidden layer passes on unchanged.

    Input i is carried when some neuron h_j = relu(W_1 x + b_1)_j of the
    first hidden layer equals x_i exactly on every point of {0, 1}^n
    (`boolean_points`), as the carry neurons of `nand_circuit_network` do.
    Returns the sorted input indices; [] when none is carried.
    """
    if not isinstance(net, FeedForwardNetwork) or net.num_layers < 2:
        raise TypeError(
            "net must be a FeedForwardNetwork with a hidden layer, got "
            f"{net!r}"
        )
    x = boolean_points(net.in_features).to(net.weights[0].dtype)
    with torch.no_grad():
        h = net.sigma(x @ net.weights[0].T + net.biases[0])
    return [
        i
        for i in range(x.shape[1])
        if any(torch.equal(h[:, j], x[:, i]) for j in range(h.shape[1]))
    ]


def evaluate_boolean(net: Callable, n_inputs: int) -> list[int]:
    """The network's outputs on all of {0,1}^n as ints (boolean_points order).

    Outputs must be integers up to 1e-9; anything else is an error, not a
    rounded answer.
    """
    x = boolean_points(n_inputs)
    in_features = getattr(net, "in_features", n_inputs)
    if in_features != n_inputs:
        raise ValueError(
            f"n_inputs={n_inputs} but the network takes {in_features} inputs"
        )
    with torch.no_grad():
        out = torch.as_tensor(net(x)).reshape(len(x), -1)[:, 0].double()
    rounded = out.round()
    off = ((out - rounded).abs() > 1e-9) | ~out.isfinite()
    if off.any():
        k = int(off.nonzero()[0, 0])
        raise ValueError(
            f"net: output {out[k].item()!r} on {x[k].int().tolist()} is not "
            "an integer"
        )
    return [int(v) for v in rounded.tolist()]


# ----------------------------------------------------------------------------
# Linear threshold units (seed 004 §2)
# ----------------------------------------------------------------------------


def _points(x) -> Tensor:
    x = _validate.real_tensor("x", x, dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(
            f"x must be points of shape (N, d), got {tuple(x.shape)}"
        )
    return x


def threshold_unit(w: Sequence[float] | Tensor, b: float, x: Tensor) -> Tensor:
    """f(x) = 1 if w^T x + b >= 0 else 0, for x (N, d); returns (N,) int64."""
    w = _validate.real_tensor("w", w, dtype=torch.float64)
    b = _validate.real("b", b)
    x = _points(x)
    if w.shape != (x.shape[1],):
        raise ValueError(
            f"w must have shape ({x.shape[1]},) to match x {tuple(x.shape)},"
            f" got {tuple(w.shape)}"
        )
    return (x @ w + b >= 0).to(torch.int64)


def and_neuron() -> tuple[Tensor, float]:
    """(w, b) with w^T x + b >= 0 only at x = (1, 1): w = (1, 1), b = -1.5."""
    return torch.tensor([1.0, 1.0], dtype=torch.float64), -1.5


def or_neuron() -> tuple[Tensor, float]:
    """(w, b) = ((1, 1), -0.5): w^T x + b >= 0 except at x = (0, 0)."""
    return torch.tensor([1.0, 1.0], dtype=torch.float64), -0.5


def _labels(labels, n: int) -> Tensor:
    labels = _validate.as_tensor("labels", labels, "0/1 numbers or bools")
    if labels.shape != (n,):
        raise ValueError(
            f"labels must have shape ({n},), one per point, got "
            f"{tuple(labels.shape)}"
        )
    if labels.is_complex() or not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(f"labels must be 0 or 1, got {labels.tolist()}")
    return labels.to(torch.float64)


def _normalise(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(x - c) / s per coordinate: centre c, half-range s (1 where flat).

    An invertible affine map of the points, so it changes no answer, but
    the linear program then sees coordinates in [-1, 1] whatever the units.
    """
    lo, hi = x.min(0).values, x.max(0).values
    centre, scale = (lo + hi) / 2, (hi - lo) / 2
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (x - centre) / scale, centre, scale


def separating_hyperplane(
    x: Tensor, labels: Tensor
) -> tuple[Tensor, float] | None:
    """(w, b) of a threshold unit reproducing the labels, or None if none.

    Args:
        x: points, shape (N, d), finite.
        labels: 0 or 1 per point, shape (N,).

    A threshold unit realises the labels iff some (w, b) has w^T x + b >= 0
    on the 1s and < 0 on the 0s. For finitely many points the strict side
    has slack, and scaling (w, b) turns any such unit into one with
    s_i (w^T x_i + b) >= 1 (s_i = +1 for label 1, -1 for label 0): a linear
    feasibility problem, solved with scipy's HiGHS solver. The points are
    first centred and scaled per coordinate (x' = (x - c) / s), so the
    answer does not depend on units or offsets; the certificate is checked
    in that frame and mapped back, w = w' / s, b = b' - w'.(c / s).
    """
    x = _points(x)
    if len(x) == 0:
        raise ValueError("x must hold at least one point, got shape (0, d)")
    signs = (2 * _labels(labels, len(x)) - 1).numpy()
    xn, centre, scale = _normalise(x)
    lifted = np.hstack([xn.numpy(), np.ones((len(x), 1))])
    res = linprog(  # -s_i (w'.x'_i + b') <= -1
        np.zeros(x.shape[1] + 1),
        A_ub=-signs[:, None] * lifted,
        b_ub=-np.ones(len(x)),
        bounds=(None, None),
        method="highs",
    )
    if res.status == 2:  # infeasible
        return None
    margins = signs * (lifted @ res.x) if res.status == 0 else None
    if margins is None or margins.min() < 0.5:
        raise RuntimeError(
            f"the linear program did not give a valid unit: {res.message}"
        )
    w_n = torch.tensor(res.x[:-1], dtype=torch.float64)
    w = w_n / scale
    return w, float(res.x[-1] - (w * centre).sum())


def linearly_separable(x: Tensor, labels: Tensor) -> bool:
    """Whether one threshold unit reproduces the 0/1 labels of the points.

    Decided by separating_hyperplane, so independent of scale and offset.
    """
    return separating_hyperplane(x, labels) is not None
