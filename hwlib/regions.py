"""Linear pieces and identified regions of piecewise-linear networks.

Two questions about the same object, a network whose activation is ReLU or |x|:

* seed 000 Q4-Q5: where is a network R -> R not differentiable, and how many
  linear pieces does it have? (`linear_pieces_1d`, `breakpoints_1d`,
  `count_linear_pieces_1d`)
* seed 004 §3: how many disjoint input regions does a stack of |W h + b| layers
  map bijectively onto the box (lo, hi)^d?

For the second question two notions of "region" are counted, and they differ:

* `count_identified_regions`: the seed's definition. Regions are arbitrary
  disjoint subsets R_1, ..., R_M of the box, each mapped bijectively onto
  the box by the stack f (f restricted to R_i is a bijection). The largest
  such M is min over y in the box of the number of preimages of y: each y
  has a preimage in every R_i; conversely, if every y has >= M preimages,
  R_i = {the i-th smallest preimage of y : y in the box} (lexicographic
  order) are M such regions.
* `count_identified_pieces`: regions that are connected pieces of the map,
  i.e. the number of maximal open boxes on which f is affine (its linear
  pieces) whose image contains the box. Each such piece holds exactly one
  region (the preimage of the box inside it); `identified_intervals_1d` and
  `identified_boxes` list them.

Every connected region counted by the second is a region of the first, so
pieces <= regions; they agree for the seed's fold layers (2^(Ld) each), and
differ when the box is covered only by pieces glued together: for d = 1 and
layers [(2.25, -1.5), (-1.25, 1.0)] on (0, 1), one piece covers (0, 1) while
every y in (0, 1) has at least 2 preimages, so the counts are 1 and 2.

Everything is computed exactly: the weights are read as the exact rationals
their floating-point values stand for (`fractions.Fraction`), and the linear
pieces are propagated layer by layer in rational arithmetic. Nothing is
sampled, so a kink that two neurons cancel in the output is detected as
cancelled, not as a small slope change.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch

from . import _validate
from .networks import FeedForwardNetwork

MAX_PIECES = 2**12
"""The most linear pieces the exact propagation keeps (it refuses beyond)."""

MAX_SAWTOOTH_LAYERS = 1000
"""The deepest sawtooth_network built (2^1000 pieces is far past float64)."""

MAX_LISTED_REGIONS = 2**16
"""The most regions identified_boxes / identified_intervals_1d list."""


@dataclass(frozen=True)
class Piece:
    """On (left, right) the map is x -> slope * x + intercept (vectors)."""

    left: Fraction
    right: Fraction
    slope: tuple[Fraction, ...]
    intercept: tuple[Fraction, ...]

    def at(self, x: Fraction) -> tuple[Fraction, ...]:
        return tuple(s * x + c for s, c in zip(self.slope, self.intercept))


def _rational_matrix(t: torch.Tensor) -> list[list[Fraction]]:
    return [
        [Fraction(float(v)) for v in row]
        for row in t.detach().cpu().double().tolist()
    ]


def _apply_affine(
    piece: Piece, w: list[list[Fraction]], b: list[Fraction]
) -> Piece:
    slope = tuple(
        sum((wk * sk for wk, sk in zip(row, piece.slope)), Fraction(0))
        for row in w
    )
    intercept = tuple(
        sum((wk * ck for wk, ck in zip(row, piece.intercept)), Fraction(0))
        + bj
        for row, bj in zip(w, b)
    )
    return Piece(piece.left, piece.right, slope, intercept)


def _split_at_zeros(piece: Piece) -> list[Piece]:
    """Cut the interval where any coordinate of the affine map crosses zero."""
    cuts = sorted(
        {
            -c / s
            for s, c in zip(piece.slope, piece.intercept)
            if s != 0 and piece.left < -c / s < piece.right
        }
    )
    edges = [piece.left, *cuts, piece.right]
    return [
        Piece(a, b, piece.slope, piece.intercept)
        for a, b in itertools.pairwise(edges)
    ]


def _activate(piece: Piece, activation: str) -> Piece:
    """Apply relu or abs on an interval where no coordinate changes sign."""
    mid = (piece.left + piece.right) / 2
    slope, intercept = [], []
    for s, c in zip(piece.slope, piece.intercept):
        negative = s * mid + c < 0
        if negative and activation == "relu":
            s, c = Fraction(0), Fraction(0)
        elif negative and activation == "abs":
            s, c = -s, -c
        slope.append(s)
        intercept.append(c)
    return Piece(piece.left, piece.right, tuple(slope), tuple(intercept))


def _merge_equal(pieces: list[Piece]) -> list[Piece]:
    """Join neighbours with one affine map (their shared end is no kink)."""
    merged = [pieces[0]]
    for p in pieces[1:]:
        last = merged[-1]
        if p.slope == last.slope and p.intercept == last.intercept:
            merged[-1] = Piece(last.left, p.right, last.slope, last.intercept)
        else:
            merged.append(p)
    return merged


def _check_interval(lo: float, hi: float) -> tuple[Fraction, Fraction]:
    lo_f = Fraction(_validate.real("lo", lo))
    hi_f = Fraction(_validate.real("hi", hi))
    if not lo_f < hi_f:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    return lo_f, hi_f


def _check_count(count: int, where: str) -> None:
    if count > MAX_PIECES:
        raise ValueError(
            f"{where}: more than MAX_PIECES = {MAX_PIECES} linear pieces "
            f"({count}); exact enumeration stops here"
        )


def _net_1d(net) -> FeedForwardNetwork:
    if not isinstance(net, FeedForwardNetwork):
        raise TypeError(
            f"net must be a FeedForwardNetwork, got {type(net).__name__}"
        )
    if net.in_features != 1 or net.out_features != 1:
        raise ValueError(
            f"need a network R -> R, got R^{net.in_features} -> "
            f"R^{net.out_features}"
        )
    return net


def linear_pieces_1d(
    net: FeedForwardNetwork, lo: float, hi: float
) -> list[Piece]:
    """The maximal intervals of (lo, hi) on which a network R -> R is affine,
    in order.

    Exact: each layer's pre-activations are affine on the current pieces, so
    the pieces are cut where a neuron's pre-activation crosses zero, the
    activation is applied on each side, and at the end neighbours with the same
    output map are merged. Works for "relu" and "abs".
    """
    _net_1d(net)
    if net.activation == "tanh":
        raise ValueError(
            "a tanh network is smooth, not piecewise linear: it has no "
            "linear pieces to count"
        )
    lo_f, hi_f = _check_interval(lo, hi)
    pieces = [Piece(lo_f, hi_f, (Fraction(1),), (Fraction(0),))]
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        w_q, b_q = (
            _rational_matrix(w),
            [Fraction(float(v)) for v in b.detach().double().tolist()],
        )
        pieces = [_apply_affine(p, w_q, b_q) for p in pieces]
        if i < net.num_layers - 1:
            pieces = [
                _activate(q, net.activation)
                for p in pieces
                for q in _split_at_zeros(p)
            ]
            _check_count(len(pieces), f"layer {i + 1}")
    return _merge_equal(pieces)


def breakpoints_1d(
    net: FeedForwardNetwork, lo: float, hi: float, *, exact: bool = False
) -> list:
    """The sorted points of (lo, hi) where a network R -> R is not
    differentiable.

    For "relu" and "abs" networks these are the ends shared by consecutive
    linear pieces; a tanh network is differentiable everywhere, so the list is
    empty. Floats by default, `fractions.Fraction` with exact=True.
    """
    exact = _validate.boolean("exact", exact)
    if _net_1d(net).activation == "tanh":
        _check_interval(lo, hi)
        return []
    points = [p.left for p in linear_pieces_1d(net, lo, hi)[1:]]
    return points if exact else [float(x) for x in points]


def count_linear_pieces_1d(
    net: FeedForwardNetwork, lo: float, hi: float
) -> int:
    """The number of maximal affine pieces of a network R -> R on (lo, hi)."""
    return len(linear_pieces_1d(net, lo, hi))


def sawtooth_network(k: int) -> FeedForwardNetwork:
    """Telgarsky's triangle map composed k times: width 2, k hidden layers, 2^k
    pieces on [0, 1].

    t(x) = 2 ReLU(x) - 4 ReLU(x - 1/2) is the tent map on [0, 1] (up on [0,
    1/2], down on [1/2, 1]); every layer feeds t(h) into the next one, and
    t∘...∘t (k times) zig-zags 2^(k-1) times, so it has 2^k linear pieces with
    only 2k hidden neurons.
    """
    k = _validate.integer("k (the number of hidden layers)", k)
    if k > MAX_SAWTOOTH_LAYERS:
        raise ValueError(
            f"k (the number of hidden layers) must be <= "
            f"{MAX_SAWTOOTH_LAYERS}, got {k}: float64 cannot resolve the "
            "2^k pieces of a deeper sawtooth anyway"
        )
    first_w, first_b = [[1.0], [1.0]], [0.0, -0.5]
    mid_w, mid_b = [[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5]
    weights = [first_w] + [mid_w] * (k - 1) + [[[2.0, -4.0]]]
    biases = [first_b] + [mid_b] * (k - 1) + [[0.0]]
    return FeedForwardNetwork(weights, biases)


def shallow_equivalent(
    net: FeedForwardNetwork, lo: float, hi: float
) -> FeedForwardNetwork:
    """A 2-layer ReLU network equal to `net` (R -> R, piecewise linear) on [lo,
    hi].

    With pieces of slopes s_0, ..., s_m and breakpoints t_1 < ... < t_m,

        f(x) = f(lo) + s_0 ReLU(x - lo) + sum_i (s_i - s_(i-1)) ReLU(x - t_i)
        on [lo, hi],

    so the width is m + 1: one hidden neuron per breakpoint, plus one for the
    first slope.
    """
    pieces = linear_pieces_1d(net, lo, hi)
    slopes = [p.slope[0] for p in pieces]
    knots = [pieces[0].left] + [p.left for p in pieces[1:]]
    jumps = [slopes[0]] + [b - a for a, b in itertools.pairwise(slopes)]
    f_lo = pieces[0].at(pieces[0].left)[0]
    w1 = [[1.0] for _ in knots]
    b1 = [-float(t) for t in knots]
    return FeedForwardNetwork(
        [w1, [[float(j) for j in jumps]]], [b1, [float(f_lo)]]
    )


def relu_fit_l1(target, kinks: Sequence[float], *, num: int = 2**13) -> float:
    """L1 distance on [0, 1] between `target` and its least-squares fit by
    g(x) = a + b x + sum_j c_j ReLU(x - t_j), kinks t_j given.

    Args:
        target: a FeedForwardNetwork R -> R (e.g. `sawtooth_network(L)`).
        kinks: the t_j (numbers in [0, 1]); any two-layer ReLU network whose
            kinks in (0, 1) are among them is such a g on [0, 1].
        num: grid intervals for the fit and for the integral (trapezoid
            rule on num + 1 points).

    Every g with at most m kinks in (0, 1) is at L1 distance at least
    (1 - m / 2^(L-1)) / 4 from the sawtooth with L hidden layers (the
    Approximation chapter's depth-separation bound); a least-squares fit is
    one such g, so its distance can test the bound.
    """
    _net_1d(target)
    num = _validate.integer("num", num, minimum=2)
    t = _validate.real_tensor("kinks", kinks, dtype=torch.float64).reshape(-1)
    if t.numel() and not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"kinks must lie in [0, 1], got {t.tolist()}")
    xs = torch.linspace(0, 1, num + 1, dtype=torch.float64)
    y = target.f1d(xs).detach().double()
    features = torch.cat(
        [torch.ones_like(xs)[:, None], xs[:, None], (xs[:, None] - t).relu()],
        dim=1,
    )
    coef = torch.linalg.lstsq(features, y[:, None]).solution
    gap = (features @ coef)[:, 0] - y
    return float(torch.trapezoid(gap.abs(), xs))


# ----------------------------------------------------------------------------
# Identified regions of |W h + b| stacks (seed 004 §3)
# ----------------------------------------------------------------------------


def abs_fold_layer(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's layer h -> |W h + b|, W = 2 I (d x d), b = -1 (eq. 8-9).

    On each coordinate it folds (0, 1) at 1/2 and stretches both halves back
    onto (0, 1).
    """
    d = _validate.integer("d", d)
    _validate.allocation(f"abs_fold_layer({d}) W", d * d)
    w = 2 * torch.eye(d, dtype=torch.float64)
    return w, -torch.ones(d, dtype=torch.float64)


def _as_layer(i: int, layer) -> tuple[torch.Tensor, torch.Tensor]:
    """layers[i] as float64 (W (d, d), b (d,)); numbers stand for d = 1."""
    try:
        w, b = layer
    except (TypeError, ValueError):
        raise ValueError(
            f"layers[{i}] must be a pair (W, b), got {type(layer).__name__}"
        ) from None
    w = _validate.real_tensor(f"W of layers[{i}]", w, dtype=torch.float64)
    b = _validate.real_tensor(f"b of layers[{i}]", b, dtype=torch.float64)
    if w.ndim == 0:
        w = w.reshape(1, 1)
    b = b.reshape(-1)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(
            f"layers[{i}] must be a square W (d, d) and b (d,), got W "
            f"{tuple(w.shape)} and b {tuple(b.shape)}"
        )
    return w, b


def _coordinate_chains(
    layers: Sequence,
) -> list[list[tuple[Fraction, Fraction]]] | list:
    """Split a stack of monomial layers into d independent one-dimensional
    stacks.

    Returns [] when some layer has a zero row (a constant output coordinate):
    then nothing is mapped onto the box.

    If every W has exactly one nonzero per row and per column, output
    coordinate i of a layer is |w_i h_{π(i)} + b_i|: the whole map is a product
    of d maps R -> R, one per input coordinate, followed by a relabelling of
    coordinates.
    """
    if isinstance(layers, (str, bytes, torch.Tensor)) or not hasattr(
        layers, "__iter__"
    ):
        raise TypeError(
            "layers must be a list of pairs (W, b), got "
            f"{type(layers).__name__}"
        )
    checked = [_as_layer(i, layer) for i, layer in enumerate(layers)]
    if not checked:
        raise ValueError("layers must hold at least one pair (W, b), got none")
    d = checked[0][0].shape[0]
    chains: list[list[tuple[Fraction, Fraction]]] = [[] for _ in range(d)]
    constant = False
    owner = list(
        range(d)
    )  # owner[j]: which input coordinate feeds coordinate j of the current h
    for i, (w, b) in enumerate(checked):
        if w.shape[0] != d:
            raise ValueError(
                f"layers[{i}]: W is {tuple(w.shape)} but layers[0] works in "
                f"d = {d}"
            )
        nonzero = w != 0
        if (nonzero.sum(1) > 1).any() or (nonzero.sum(0) > 1).any():
            raise ValueError(
                f"layers[{i}]: the region counters support W with at "
                "most one nonzero entry in each row and column (diagonal "
                f"or a scaled permutation), got\n{w.numpy()}"
            )
        if not nonzero.any(1).all():
            # a zero row makes an output coordinate constant: no later
            # monomial layer can spread it out again, so no region is
            # mapped onto the box
            constant = True
        source = nonzero.to(torch.int64).argmax(1).tolist()
        for row, col in enumerate(source):
            chains[owner[col]].append(
                (Fraction(float(w[row, col])), Fraction(float(b[row])))
            )
        owner = [owner[col] for col in source]
    return [] if constant else chains


def _chain(chain) -> list[tuple[Fraction, Fraction]]:
    """A 1-D fold stack as exact pairs (w, b) of finite numbers."""
    if isinstance(chain, (str, bytes)) or not hasattr(chain, "__iter__"):
        raise TypeError(f"chain must be a list of pairs (w, b), got {chain!r}")
    pairs = []
    for i, layer in enumerate(chain, start=1):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(
                f"chain[{i - 1}] must be a pair (w, b), got {layer!r}"
            )
        w, b = (
            _validate.real(f"chain[{i - 1}][{j}]", v)
            for j, v in enumerate(layer)
        )
        pairs.append((Fraction(w), Fraction(b)))
    return pairs


def fold_pieces_1d(
    chain: Sequence[tuple[float, float]], lo: float = 0.0, hi: float = 1.0
) -> list[Piece]:
    """The affine pieces of x -> |w_L ... |w_1 x + b_1| ... + b_L| on (lo, hi).

    Exact, and refused beyond MAX_PIECES pieces (2^L for the seed's fold).
    """
    lo_f, hi_f = _check_interval(lo, hi)
    pieces = [Piece(lo_f, hi_f, (Fraction(1),), (Fraction(0),))]
    for i, (w, b) in enumerate(_chain(chain), start=1):
        step = [
            _activate(q, "abs")
            for p in pieces
            for q in _split_at_zeros(_apply_affine(p, [[w]], [b]))
        ]
        _check_count(len(step), f"fold layer {i}")
        pieces = step
    return pieces


def _fold_images(chain, lo: Fraction, hi: Fraction) -> Counter:
    """The image intervals of the fold stack's pieces, with multiplicities.

    A piece maps its interval affinely onto an interval J = [a, c], and what
    the later layers do to it depends on J alone: t -> |w t + b| cuts J
    where w t + b = 0 and folds. So the pieces can be counted per image
    interval instead of one by one; for the seed's fold (0, 1) -> (0, 1)
    twice per layer, there is one interval with multiplicity 2^L.
    """
    images = Counter({(lo, hi): 1})
    for i, (w, b) in enumerate(chain, start=1):
        step: Counter = Counter()
        for (a, c), count in images.items():
            ends = sorted([w * a + b, w * c + b])
            cuts = [ends[0], ends[1]]
            if ends[0] < 0 < ends[1]:
                cuts = [ends[0], Fraction(0), ends[1]]
            for u, v in itertools.pairwise(cuts):
                step[tuple(sorted([abs(u), abs(v)]))] += count
        if len(step) > MAX_PIECES:
            raise ValueError(
                f"fold layer {i}: more than MAX_PIECES = {MAX_PIECES} "
                "different image intervals; this stack has no structure "
                "the counter can use"
            )
        images = step
    return images


def _count_pieces_1d(chain, lo: Fraction, hi: Fraction) -> int:
    """The number of pieces whose image covers [lo, hi] (nonconstant)."""
    return sum(
        n
        for (a, c), n in _fold_images(chain, lo, hi).items()
        if a < c and a <= lo and c >= hi
    )


def _fold_values(chain, lo: Fraction, hi: Fraction):
    """Where the 1-D fold stack sends (lo, hi): open intervals and points.

    Returns (intervals, points), two Counters. intervals[(a, c)] = n: n
    open intervals of the input are each mapped by one affine map
    bijectively onto the open interval (a, c). points[p] = n: n single
    input points (the cuts, where some pre-activation is 0) are mapped to
    p. Together they account for every input point exactly once, so the
    number of preimages of y is the number of intervals containing y plus
    points[y]. None when some w is 0: the output is then constant.
    """
    intervals, points = Counter({(lo, hi): 1}), Counter()
    for i, (w, b) in enumerate(chain, start=1):
        if w == 0:
            return None
        step_i, step_p = Counter(), Counter()
        for (a, c), n in intervals.items():
            u, v = sorted([w * a + b, w * c + b])
            if u < 0 < v:  # the cut t = -b/w inside: fold it at 0
                step_i[(Fraction(0), -u)] += n
                step_i[(Fraction(0), v)] += n
                step_p[Fraction(0)] += n
            else:
                step_i[tuple(sorted([abs(u), abs(v)]))] += n
        for p, n in points.items():
            step_p[abs(w * p + b)] += n
        if len(step_i) + len(step_p) > MAX_PIECES:
            raise ValueError(
                f"fold layer {i}: more than MAX_PIECES = {MAX_PIECES} "
                "different image intervals and points; this stack has no "
                "structure the counter can use"
            )
        intervals, points = step_i, step_p
    return intervals, points


def _fewest_preimages_1d(chain, lo: Fraction, hi: Fraction) -> int:
    """min over y in (lo, hi) of the number of preimages in (lo, hi).

    The count is constant between consecutive ends of the image intervals
    and point values, so a sweep over those values in increasing order
    visits every value it takes on (lo, hi): at each such value and on
    each open gap between two of them.
    """
    found = _fold_values(chain, lo, hi)
    if found is None:
        return 0
    intervals, points = found
    opens, closes = Counter(), Counter()
    for (a, c), n in intervals.items():
        opens[a] += n
        closes[c] += n
    keys = sorted(set(opens) | set(closes) | set(points) | {lo, hi})
    fewest, inside = None, 0  # inside: intervals holding the gap before key
    for k, nxt in zip(keys, keys[1:] + [None]):
        at_k = inside - closes[k] + points[k]
        inside += opens[k] - closes[k]
        seen = [at_k] if lo < k < hi else []
        if nxt is not None and k < hi and nxt > lo:
            seen.append(inside)  # the open gap (k, nxt) meets (lo, hi)
        for value in seen:
            fewest = value if fewest is None else min(fewest, value)
    return fewest


def identified_intervals_1d(
    chain: Sequence[tuple[float, float]], lo: float = 0.0, hi: float = 1.0
):
    """The connected regions the 1-D fold stack maps onto (lo, hi).

    A piece x -> s x + c on (l, r) counts when its image contains (lo, hi);
    the identified region is then the preimage of (lo, hi) inside the
    piece, an interval of length (hi - lo) / |s|. These are the regions
    counted by `count_identified_pieces` (see the module docstring for how
    they relate to `count_identified_regions`). Lists at most
    MAX_LISTED_REGIONS.
    """
    return [interval for interval, _ in _covering_pieces(chain, lo, hi)]


def _covering_pieces(chain, lo: float, hi: float) -> list:
    """(identified interval, slope of its piece), in input order."""
    lo_f, hi_f = _check_interval(lo, hi)
    _check_listed(_count_pieces_1d(_chain(chain), lo_f, hi_f))
    found = []
    for p in fold_pieces_1d(chain, lo, hi):
        (s,), (c,) = p.slope, p.intercept
        ends = sorted([s * p.left + c, s * p.right + c])
        if s != 0 and ends[0] <= lo_f and ends[1] >= hi_f:
            interval = tuple(sorted([(lo_f - c) / s, (hi_f - c) / s]))
            found.append((interval, s))
    return found


def _check_listed(count: int) -> None:
    if count > MAX_LISTED_REGIONS:
        raise ValueError(
            f"there are {count} identified regions, more than "
            f"MAX_LISTED_REGIONS = {MAX_LISTED_REGIONS} to list; use "
            "count_identified_pieces for the number"
        )


def count_identified_pieces(
    layers: Sequence, lo: float = 0.0, hi: float = 1.0
) -> int:
    """How many linear pieces of the stack h -> |W h + b| cover (lo, hi)^d.

    A linear piece is a maximal open box of (lo, hi)^d on which the stack is
    one affine map; it counts when its image contains (lo, hi)^d, and then
    the preimage of the box inside it is one connected region mapped
    bijectively onto the box. This is the number of such connected
    regions; `count_identified_regions` counts the seed's arbitrary
    disjoint regions and can be larger (module docstring).

    Args:
        layers: pairs (W, b) with W of shape (d, d) and b of shape (d,)
            (a number each for d = 1).
        lo, hi: the box (lo, hi)^d, both the input domain and the target.

    Supported W: at most one nonzero entry in every row and column
    (diagonal matrices, and permutations scaled per row; a zero row makes a
    coordinate constant, so the count is 0). Then the map is a product of d
    one-dimensional fold stacks, one per input coordinate; a linear piece
    of a product is a product of pieces, and its image covers the box
    exactly when every factor's image covers (lo, hi). So the count is the
    product of the one-dimensional counts, each computed exactly by
    grouping the pieces by their image interval (so 24 fold layers, 2^24
    pieces, take milliseconds). Any other W (one that mixes coordinates)
    raises ValueError.
    """
    return _product_over_coordinates(layers, lo, hi, _count_pieces_1d)


def count_identified_regions(
    layers: Sequence, lo: float = 0.0, hi: float = 1.0
) -> int:
    """The largest number of disjoint regions of (lo, hi)^d that the stack
    h -> |W h + b| maps bijectively onto (lo, hi)^d (seed 004 §3).

    The regions are any disjoint subsets of the box, as in the seed's
    definition, so the number is min over y in the box of the number of
    preimages of y in the box (module docstring). It is at least
    `count_identified_pieces`, which asks each region to lie in one linear
    piece; the two agree on the seed's fold layers.

    Args:
        layers: pairs (W, b) with W of shape (d, d) and b of shape (d,)
            (a number each for d = 1).
        lo, hi: the box (lo, hi)^d, both the input domain and the target.

    Same support as `count_identified_pieces`: W with at most one nonzero
    entry in every row and column. The map is then a product of d 1-D fold
    stacks, the number of preimages of y is the product of the 1-D numbers
    of its coordinates, and since the coordinates of y vary independently
    its minimum is the product of the 1-D minima. Each 1-D minimum is exact:
    the stack's pieces are grouped by image interval, its cut points by
    their value, and the count is swept over the values where it can change.
    """
    return _product_over_coordinates(layers, lo, hi, _fewest_preimages_1d)


def _product_over_coordinates(layers, lo, hi, count_1d) -> int:
    """prod over the coordinates' 1-D chains of count_1d(chain, lo, hi);
    0 when a coordinate is constant (no chain)."""
    lo_f, hi_f = _check_interval(lo, hi)
    chains = _coordinate_chains(layers)
    return math.prod(count_1d(c, lo_f, hi_f) for c in chains) if chains else 0


def identified_boxes(
    layers: Sequence, lo: float = 0.0, hi: float = 1.0
) -> list[tuple[tuple[Fraction, Fraction], ...]]:
    """The identified regions themselves, as boxes: an interval per axis.

    The connected regions counted by `count_identified_pieces` (the length
    of this list), with the same support, but it lists every region, so use
    it for figures and small cases: there are 2^(L d) of them for the seed's
    fold layers, and more than MAX_LISTED_REGIONS are refused.
    """
    _check_listed(count_identified_pieces(layers, lo, hi))
    chains = _coordinate_chains(layers)
    if not chains:
        return []
    per_axis = (identified_intervals_1d(chain, lo, hi) for chain in chains)
    return list(itertools.product(*per_axis))


def box_orientations(
    layers: Sequence, lo: float = 0.0, hi: float = 1.0
) -> list[tuple[bool, ...]]:
    """Which input axes the stack reverses on each identified box.

    One tuple per box of `identified_boxes(layers, lo, hi)`, in that order,
    with one bool per input axis: True where the stack's affine map on the
    box decreases along that axis (the slope of that coordinate's 1-D fold
    stack on its piece is negative). For d = 1 it is one bool per interval
    of `identified_intervals_1d`. Crossing one fold line flips exactly one
    of them, which is why the book colours boxes by it.
    """
    _check_listed(count_identified_pieces(layers, lo, hi))
    chains = _coordinate_chains(layers)
    if not chains:
        return []
    per_axis = (
        [s < 0 for _, s in _covering_pieces(chain, lo, hi)] for chain in chains
    )
    return list(itertools.product(*per_axis))
