"""The whole plane, exactly: the pieces on which a ReLU network R^2 -> R is
affine and the signs of (x1, x2) are fixed, and where on them a gate's
sign rule breaks. Fractions throughout; no floating point, no tolerance.

A constraint is (a, c, strict) on u in Q^k: a·u + c > 0 when strict, else
a·u + c >= 0. A system is a list of them (every one must hold).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from itertools import product

Affine = tuple[tuple[Fraction, ...], Fraction]
"""(g, c): the function u -> g·u + c."""
Constraint = tuple[tuple[Fraction, ...], Fraction, bool]
Point = tuple[Fraction, ...]


def _at(g: tuple, c: Fraction, u: Point) -> Fraction:
    return sum((gi * ui for gi, ui in zip(g, u)), c)


def _rows(system: list[Constraint]) -> list[tuple[tuple[int, ...], bool]]:
    """Each constraint as integers (a_1, ..., a_k, c) with gcd 1 (a
    positive multiple, so the same set), duplicates dropped; a failed
    constant row is kept as ((-1,), False), an always-true one dropped."""
    rows = {}
    for a, c, strict in system:
        values = (*a, c)
        scale = math.lcm(*(Fraction(v).denominator for v in values))
        ints = [int(v * scale) for v in values]
        rows = _add(rows, ints, strict)
    return list(rows.items())


def _add(rows: dict, ints: list[int], strict: bool) -> dict:
    """rows with one more row, divided by the gcd of its entries."""
    if not any(ints[:-1]):
        if ints[-1] < 0 or (ints[-1] == 0 and strict):
            rows[(-1,)] = False  # 0 >= -1 fails: -1 >= 0 is false
        return rows
    g = math.gcd(*ints)
    key = tuple(v // g for v in ints)
    rows[key] = rows.get(key, False) or strict
    return rows


def _simplest(lo, lo_strict, hi, hi_strict) -> Fraction:
    """The rational of smallest denominator in the interval from lo to hi
    (None: unbounded; *_strict: the end is excluded), the integer nearest
    0 when there is one. Without an integer, x = n + 1/y with n = floor(lo)
    and y the simplest number in the reciprocal interval (continued
    fractions). The interval must not be empty."""
    if lo is not None and lo == hi:
        return lo
    first = last = None  # the first and last integers inside
    if lo is not None:
        first = math.floor(lo) + 1 if lo_strict else math.ceil(lo)
    if hi is not None:
        last = math.ceil(hi) - 1 if hi_strict else math.floor(hi)
    if first is None or last is None or first <= last:
        low = -math.inf if first is None else first
        high = math.inf if last is None else last
        return Fraction(min(max(0, low), high))
    n = math.floor(lo)
    far = None if lo == n else 1 / (lo - n)
    return n + 1 / _simplest(1 / (hi - n), hi_strict, far, lo_strict)


def feasible(system: list[Constraint], k: int) -> Point | None:
    """A point u in Q^k satisfying every constraint, or None: exact
    Fourier–Motzkin elimination with strict and non-strict inequalities.

    A row with a_k = t != 0 bounds u_k by B(u') = -(a'·u' + c) / t, for
    u' = (u_1, ..., u_{k-1}): from below (u_k >= B) when t > 0, from above
    (u_k <= B) when t < 0, strictly when the row is strict. Some u_k exists
    iff L(u') <= U(u') for every lower L and upper U (L < U when either is
    strict), together with the rows free of u_k: a system in k - 1
    variables, one row per pair, -t_U row_L + t_L row_U (the u_k terms
    cancel; integers, no division). Solved recursively (k = 0: every
    constant c >= 0, or > 0 when strict); back-substitution then takes the
    simplest u_k between max L and min U, and the last variable needs no
    pairs: its interval is non-empty or not. Pairs grow as (m/2)^2 per
    elimination: meant for k <= 3 with few rows.
    """
    return _solve(_rows(system), k)


def _solve(rows, k: int) -> Point | None:
    if ((-1,), False) in rows:
        return None
    if k == 0:
        return ()
    free, lower, upper = {}, [], []
    for row, strict in rows:
        t = row[k - 1]
        if t == 0:
            free = _add(free, [*row[: k - 1], row[k]], strict)
        else:
            (lower if t > 0 else upper).append((row, strict))
    for (lo, ls), (up, us) in product(lower, upper) if k > 1 else ():
        tl, tu = lo[k - 1], -up[k - 1]
        pair = [tu * a + tl * b for a, b in zip(lo, up)]
        free = _add(free, pair[: k - 1] + pair[k:], ls or us)
    rest = _solve(list(free.items()), k - 1)
    if rest is None:
        return None
    ends = []
    for bounds, pick in ((lower, max), (upper, min)):
        values = [
            (-_at(row[: k - 1], Fraction(row[k]), rest) / row[k - 1], s)
            for row, s in bounds
        ]
        end = pick((v for v, _ in values), default=None)
        ends += [end, any(s for v, s in values if v == end)]
    lo, ls, hi, hs = ends
    if lo is not None and hi is not None and (lo, hs or ls) > (hi, False):
        return None  # empty interval (only possible when k == 1)
    return (*rest, _simplest(*ends))


def _start_pieces():
    """The 9 sign pieces of the plane: 4 open quadrants, 4 open half-axes,
    the origin. Each as (signs, k, x, system, witness): x the two inputs
    as affine functions of u in Q^k (k = number of nonzero signs)."""
    for signs in product((1, -1, 0), repeat=2):
        k = sum(s != 0 for s in signs)
        x, system, witness, j = [], [], [], 0
        for s in signs:
            g = [Fraction(0)] * k
            if s:
                g[j] = Fraction(1)
                system.append((tuple(s * v for v in g), Fraction(0), True))
                witness.append(Fraction(s))
                j += 1
            x.append((tuple(g), Fraction(0)))
        yield signs, k, x, system, tuple(witness)


def _combine(row, b, h: list[Affine], k: int) -> Affine:
    """sum_i row_i h_i + b as an affine function of u."""
    g = tuple(
        sum((w * hi[0][j] for w, hi in zip(row, h)), Fraction(0))
        for j in range(k)
    )
    return g, sum((w * hi[1] for w, hi in zip(row, h)), Fraction(b))


def pieces(layers) -> list:
    """(signs, k, x, system, witness, f) for every non-empty piece of the
    plane on which the network is affine (f(u) = g·u + c) and the signs of
    x1, x2 are fixed. Each sign piece is split by each hidden neuron, layer
    by layer, into {pre >= 0} and {pre < 0}: the witness lies on one side,
    so one solve per split decides the other. Every point of the plane is
    in exactly one piece. layers: [(W, b), ...] in Fractions, ReLU between
    them, one output."""
    found = []
    for signs, k, x, system, witness in _start_pieces():
        parts = [(system, witness, x)]
        for w, b in layers[:-1]:
            parts = _split_layer(parts, w, b, k)
        for system, witness, h in parts:
            f = _combine(layers[-1][0][0], layers[-1][1][0], h, k)
            found.append((signs, k, x, system, witness, f))
    return found


def _split_layer(parts, w, b, k):
    """Each (system, witness, h) split by the layer's neurons, then h
    replaced by the layer's output on each part."""
    active = [(system, u, h, ()) for system, u, h in parts]
    for row, bj in zip(w, b):
        split = []
        for system, u, h, on in active:
            g, c = _combine(row, bj, h, k)
            here = _at(g, c, u) >= 0
            split.append(([*system, _side(g, c, here)], u, h, (*on, here)))
            if any(g):
                other = [*system, _side(g, c, not here)]
                v = feasible(other, k)
                if v is not None:
                    split.append((other, v, h, (*on, not here)))
        active = split
    return [
        (
            system,
            u,
            [
                _combine(row, bj, h, k) if keep else ((0,) * k, Fraction(0))
                for row, bj, keep in zip(w, b, on)
            ],
        )
        for system, u, h, on in active
    ]


def _side(g, c, nonneg: bool) -> Constraint:
    """pre >= 0 when nonneg, else pre < 0 (as -pre > 0)."""
    if nonneg:
        return g, c, False
    return tuple(-v for v in g), -c, True


def violations(layers, rule: Callable) -> list:
    """(x, signs, f(x)) on each piece where the network breaks the rule
    (f > 0 exactly where rule(s1, s2) holds for the signs of x1, x2): one
    solve per piece of its system with f <= 0 added where the rule holds,
    f > 0 where it does not (and once more with f < 0 where f = 0 was
    found, for a clearer point). Exact points and values; [] when none."""
    found = []
    for signs, k, x, system, _, (g, c) in pieces(layers):
        wrong = (
            (tuple(-v for v in g), -c, False)  # f <= 0
            if rule(*signs)
            else (g, c, True)  # f > 0
        )
        u = feasible([*system, wrong], k)
        if u is not None and rule(*signs) and _at(g, c, u) == 0:
            u = feasible([*system, (wrong[0], wrong[1], True)], k) or u
        if u is not None:
            point = tuple(_at(gx, cx, u) for gx, cx in x)
            found.append((point, signs, _at(g, c, u)))
    return found
