"""Logic with neurons: ReLU gate networks and threshold units (seed 000 Q7, seed 004 §2).

Two kinds of unit appear in the seeds:

* ReLU networks R^2 -> R whose *sign* encodes a gate: f(x) > 0 exactly on the points where the
  gate is true (`or_network`, `xor_network`), or whose *value* is the gate on {0, 1}^n
  (`nand_network`, `boolean_network`);
* the linear threshold unit f(x) = 1 if w^T x + b >= 0 else 0 (`threshold_unit`), for which
  `linearly_separable` decides whether a labelled point set can be realised at all.
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from .networks import ReLUNetwork


def or_network() -> ReLUNetwork:
    """2 layers, width 2: f(x) = ReLU(x1) + ReLU(x2), so f(x) > 0 iff x1 > 0 or x2 > 0.

    Each hidden neuron is positive exactly on its open half-plane; the sum of two nonnegative
    numbers is positive iff one of them is.
    """
    return ReLUNetwork([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])


def xor_network() -> ReLUNetwork:
    """3 layers, widths 4 and 4: f(x) > 0 iff (x1 < 0 and x2 > 0) or (x1 > 0 and x2 < 0).

    Layer 1 splits each coordinate into its positive and negative parts,
    p_i = ReLU(x_i) and n_i = ReLU(-x_i). An AND of two strict inequalities is a minimum of two
    nonnegative numbers, min(a, b) > 0 iff a > 0 and b > 0, and for a >= 0
    min(a, b) = ReLU(a) - ReLU(a - b). Layer 2 computes ReLU(p1), ReLU(p1 - n2), ReLU(n1),
    ReLU(n1 - p2), and the output is

        f(x) = min(p1, n2) + min(n1, p2),

    positive exactly when one of the two quadrants holds. On the axes p_i = n_i = 0, so f = 0.
    """
    w1 = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]  # p1, n1, p2, n2
    w2 = [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, -1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 1.0, -1.0, 0.0]]
    w3 = [[1.0, -1.0, 1.0, -1.0]]
    return ReLUNetwork([w1, w2, w3], [[0.0] * 4, [0.0] * 4, [0.0]])


def nand_network() -> ReLUNetwork:
    """NAND on {0, 1}^2: f(x) = 1 - ReLU(x1 + x2 - 1).

    ReLU(x1 + x2 - 1) is 1 on (1, 1) and 0 on the other three corners: it is AND.
    """
    return ReLUNetwork([[[1.0, 1.0]], [[-1.0]]], [[-1.0], [1.0]])


def _truth_table(fn: Callable[..., bool] | Sequence, n_inputs: int) -> list[int]:
    """The outputs on all of {0,1}^n, in the order of itertools.product([0, 1], repeat=n)."""
    rows = list(itertools.product([0, 1], repeat=n_inputs))
    if callable(fn):
        return [int(bool(fn(*row))) for row in rows]
    table = list(fn)
    if len(table) != len(rows):
        raise ValueError(f"a truth table for {n_inputs} inputs needs {len(rows)} entries, got {len(table)}")
    if any(v not in (0, 1, True, False) for v in table):
        raise ValueError(f"truth-table entries must be 0/1 or booleans, got {table}")
    return [int(v) for v in table]


def boolean_network(fn: Callable[..., bool] | Sequence, n_inputs: int) -> ReLUNetwork:
    """Compile any boolean function of n inputs into a ReLU network built from NAND blocks.

    Args:
        fn: a callable taking n bits and returning a truth value, or a truth table listing the
            outputs for the inputs in the order of itertools.product([0, 1], repeat=n).
        n_inputs: n.

    A NAND block on inputs a_1..a_m (each 0 or 1) is 1 - ReLU(a_1 + ... + a_m - (m - 1)); its
    ReLU neuron computes the AND and the affine "1 - ." folds into the next layer. The function
    is a disjunction of its true rows (minterms), and OR = NAND of NANDs:

        layer 1: one neuron per true row r, g_r = ReLU(sum_{i: r_i=1} x_i + sum_{i: r_i=0} (1 - x_i) - (n - 1)),
                 which is 1 exactly on x = r (the NAND of the row's literals, before "1 - .");
        layer 2: one neuron, ReLU(1 - sum_r g_r) = NAND over the rows of NAND_r;
        output:  1 - layer 2.

    Width of layer 1: the number of true rows (at least 1: a zero neuron stands in for the
    constant-false function).
    """
    if int(n_inputs) != n_inputs or n_inputs < 1:
        raise ValueError(f"n_inputs must be a positive integer, got {n_inputs!r}")
    rows = list(itertools.product([0, 1], repeat=n_inputs))
    true_rows = [r for r, v in zip(rows, _truth_table(fn, n_inputs)) if v]
    w1 = [[1.0 if bit else -1.0 for bit in r] for r in true_rows] or [[0.0] * n_inputs]
    # sum_{r_i=1} x_i + sum_{r_i=0} (1 - x_i) - (n - 1) = w.x + 1 - sum(r)
    b1 = [1.0 - sum(r) for r in true_rows] or [-1.0]
    return ReLUNetwork([w1, [[-1.0] * len(w1)], [[-1.0]]], [b1, [1.0], [1.0]])


def evaluate_boolean(net: ReLUNetwork, n_inputs: int) -> list[int]:
    """The network's outputs on all of {0,1}^n, as integers (itertools.product order)."""
    x = torch.tensor(list(itertools.product([0, 1], repeat=n_inputs)), dtype=torch.float64)
    out = net(x)[:, 0].detach()
    return [int(round(v)) for v in out.tolist()]


# ---------------------------------------------------------------------------------------------
# Linear threshold units (seed 004 §2)
# ---------------------------------------------------------------------------------------------


def threshold_unit(w: Sequence[float] | Tensor, b: float, x: Tensor) -> Tensor:
    """f(x) = 1 if w^T x + b >= 0 else 0, for a batch x of shape (N, d); returns (N,) int64."""
    w = torch.as_tensor(w, dtype=torch.float64)
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or w.shape != (x.shape[1],):
        raise ValueError(f"need w of shape (d,) and x of shape (N, d), got w {tuple(w.shape)}, x {tuple(x.shape)}")
    return (x @ w + b >= 0).to(torch.int64)


def and_neuron() -> tuple[Tensor, float]:
    """(w, b) with w^T x + b >= 0 only at x = (1, 1): w = (1, 1), b = -1.5."""
    return torch.tensor([1.0, 1.0], dtype=torch.float64), -1.5


def or_neuron() -> tuple[Tensor, float]:
    """(w, b) with w^T x + b >= 0 everywhere but x = (0, 0): w = (1, 1), b = -0.5."""
    return torch.tensor([1.0, 1.0], dtype=torch.float64), -0.5


def separating_hyperplane(x: Tensor, labels: Tensor) -> tuple[Tensor, float] | None:
    """(w, b) of a threshold unit that reproduces the labels on the points, or None if none exists.

    Args:
        x: points, shape (N, d).
        labels: 0 or 1 per point, shape (N,).

    A threshold unit realises the labels iff some (w, b) has w^T x + b >= 0 on the 1s and < 0 on
    the 0s. For finitely many points the strict side has slack, and scaling (w, b) turns any
    such unit into one with s_i (w^T x_i + b) >= 1 (s_i = +1 for label 1, -1 for label 0): a linear
    feasibility problem, solved with scipy's HiGHS linear-programming solver.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    if x.ndim != 2 or labels.shape != (x.shape[0],):
        raise ValueError(f"need x of shape (N, d) and labels of shape (N,), got {tuple(x.shape)} and {tuple(labels.shape)}")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(f"labels must be 0 or 1, got {labels.tolist()}")
    s = (2 * labels.to(torch.float64) - 1).numpy()
    a_ub = -s[:, None] * np.hstack([x.numpy(), np.ones((len(s), 1))])  # -s_i (w.x_i + b) <= -1
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(s)), bounds=(None, None), method="highs")
    if res.status == 2:  # infeasible
        return None
    if res.status != 0:
        raise RuntimeError(f"the linear program did not finish: {res.message}")
    return torch.tensor(res.x[:-1], dtype=torch.float64), float(res.x[-1])


def linearly_separable(x: Tensor, labels: Tensor) -> bool:
    """Whether one threshold unit can reproduce the 0/1 labels of the points (see separating_hyperplane)."""
    return separating_hyperplane(x, labels) is not None


def boolean_points(n_inputs: int) -> Tensor:
    """All of {0,1}^n as a (2^n, n) float64 tensor, in itertools.product order."""
    return torch.tensor(list(itertools.product([0, 1], repeat=n_inputs)), dtype=torch.float64)
