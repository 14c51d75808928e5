import time
from collections import Counter
from fractions import Fraction

import pytest
import torch
from conftest import count_regions_by_sampling
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hwlib.check.regions as check_regions
import hwlib.regions as regions_module
from hwlib.networks import FeedForwardNetwork
from hwlib.regions import (
    abs_fold_layer,
    box_orientations,
    breakpoints_1d,
    count_identified_pieces,
    count_identified_regions,
    count_linear_pieces_1d,
    fold_pieces_1d,
    identified_boxes,
    identified_intervals_1d,
    linear_pieces_1d,
    relu_fit_l1,
    sawtooth_network,
    shallow_equivalent,
)

ACTIVATIONS = st.sampled_from(["relu", "abs"])


@st.composite
def small_networks(draw, activation=ACTIVATIONS):
    """Random R -> R networks of 1-3 hidden layers, width <= 4.

    Most draws place the kinks of some first-layer neurons at t in
    (-3.5, 3.5), b = -w t with w != 0, feeding the next layer's first
    neuron with a nonzero weight, so that there is usually a breakpoint in
    (-4, 4) to check; the rest (st.one_of's first branch) keep purely random
    biases, which often leave no kink in range (a degenerate case). Values
    are rounded, so exact zeros and ties between neurons occur.
    """
    activation = draw(activation)
    depth = draw(st.integers(1, 3))
    sizes = [1] + [draw(st.integers(1, 4)) for _ in range(depth)] + [1]
    value = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 2))
    ws = [
        [[draw(value) for _ in range(i)] for _ in range(o)]
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    bs = [[draw(value) for _ in range(o)] for o in sizes[1:]]
    placed = st.integers(1, sizes[1])
    n_placed = draw(st.one_of(st.just(0), placed, placed, placed))
    # dyadic w and t: b = -w t is exact, so equal kinks are exact ties
    # (not two kinks 1e-16 apart, which no sampling can resolve)
    dyadic = st.integers(-48, 48).filter(bool).map(lambda m: m / 16)
    kink = st.integers(-27, 27).map(lambda k: k / 8)  # ties are likely
    for j in range(n_placed):
        w, t = draw(dyadic), draw(kink)
        ws[0][j], bs[0][j] = [w], -w * t
        ws[1][0][j] = draw(dyadic)  # the next layer sees the neuron
    return FeedForwardNetwork(ws, bs, activation=activation)


def assert_linear_on(net, a, b, n=7, tol=1e-9):
    """Dense-sampling reference: f is affine on [a, b] (all samples on one line)."""
    xs = torch.linspace(a, b, n, dtype=torch.float64)
    ys = net.f1d(xs).detach()
    line = ys[0] + (ys[-1] - ys[0]) * (xs - a) / (b - a)
    assert (ys - line).abs().max() <= tol * (1 + ys.abs().max())


@settings(max_examples=60, deadline=None)
@given(small_networks())
def test_pieces_agree_with_dense_sampling(net):
    lo, hi = -4.0, 4.0
    pieces = linear_pieces_1d(net, lo, hi)
    # the sampling checks below resolve kinks 1e-6 apart, not the rare
    # distinct rational kinks that round to (nearly) the same float
    ends = [float(p.left) for p in pieces] + [hi]
    assume(min(b - a for a, b in zip(ends[:-1], ends[1:])) > 1e-6)
    # pieces tile (lo, hi) in order
    assert pieces[0].left == lo and pieces[-1].right == hi
    assert all(p.right == q.left for p, q in zip(pieces[:-1], pieces[1:]))
    for p in (
        pieces
    ):  # the network is affine on each piece and equals the piece's map
        a, b = float(p.left), float(p.right)
        xs = torch.linspace(a, b, 5, dtype=torch.float64)
        expected = float(p.slope[0]) * xs + float(p.intercept[0])
        torch.testing.assert_close(
            net.f1d(xs).detach(), expected, atol=1e-8, rtol=1e-8
        )
    for t in breakpoints_1d(
        net, lo, hi
    ):  # each breakpoint is a real change of slope
        h = 1e-4 * min(
            [1.0] + [abs(t - s) for s in breakpoints_1d(net, lo, hi) if s != t]
        )
        ys = net.f1d(
            torch.tensor([t - h, t, t + h], dtype=torch.float64)
        ).detach()
        left, right = (ys[1] - ys[0]) / h, (ys[2] - ys[1]) / h
        assert abs(left - right) > 1e-6 * (1 + abs(left))
    edges = (
        [lo] + breakpoints_1d(net, lo, hi) + [hi]
    )  # between breakpoints, no hidden kink
    for a, b in zip(edges[:-1], edges[1:]):
        assert_linear_on(net, a, b)


def test_cancelled_kinks_are_not_breakpoints():
    # ReLU(x) - ReLU(-x) = x and ReLU(x) + ReLU(x) - 2 ReLU(x) = 0 have no kinks
    identity = FeedForwardNetwork(
        [[[1.0], [-1.0]], [[1.0, -1.0]]], [[0.0, 0.0], [0.0]]
    )
    zero = FeedForwardNetwork(
        [[[1.0], [1.0], [1.0]], [[1.0, 1.0, -2.0]]], [[0.0, 0.0, 0.0], [0.0]]
    )
    assert (
        breakpoints_1d(identity, -5, 5) == []
        and count_linear_pieces_1d(zero, -5, 5) == 1
    )
    # a kink hidden in layer 1 that layer 2 cancels exactly
    net = FeedForwardNetwork(
        [[[1.0]], [[1.0], [1.0]], [[1.0, -1.0]]], [[0.0], [0.0, 0.0], [0.0]]
    )
    assert breakpoints_1d(net, -1, 1) == []


def test_hand_derived_breakpoints():
    abs_net = FeedForwardNetwork(
        [[[1.0]], [[1.0]]], [[0.0], [0.0]], activation="abs"
    )
    assert breakpoints_1d(abs_net, -1, 1) == [0.0]
    k = 5
    wide = FeedForwardNetwork(
        [torch.ones(k, 1), torch.ones(1, k)],
        [-torch.arange(k, dtype=torch.float64), torch.zeros(1)],
    )
    assert breakpoints_1d(wide, -10, 10) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert breakpoints_1d(wide, 0.5, 2.5) == [
        1.0,
        2.0,
    ]  # only the points inside (lo, hi)
    tanh_net = FeedForwardNetwork.random(
        [1, 3, 1],
        activation="tanh",
        generator=torch.Generator().manual_seed(0),
    )
    assert breakpoints_1d(tanh_net, -1, 1) == []
    with pytest.raises(ValueError, match="smooth"):
        linear_pieces_1d(tanh_net, -1, 1)


@pytest.mark.parametrize("k", range(1, 9))
def test_sawtooth_has_2_to_the_k_pieces(k):
    net = sawtooth_network(k)
    assert net.widths == [2] * k
    assert count_linear_pieces_1d(net, 0, 1) == 2**k
    assert breakpoints_1d(net, 0, 1, exact=True) == [
        Fraction(j, 2**k) for j in range(1, 2**k)
    ]


def test_sawtooth_values_are_the_iterated_tent_map():
    xs = torch.linspace(0, 1, 513, dtype=torch.float64)
    ys = xs.clone()
    for _ in range(4):
        ys = torch.where(ys <= 0.5, 2 * ys, 2 - 2 * ys)
    torch.testing.assert_close(sawtooth_network(4).f1d(xs).detach(), ys)


@settings(max_examples=25, deadline=None)
@given(small_networks())
def test_shallow_equivalent_equals_the_network(net):
    shallow = shallow_equivalent(net, -3, 3)
    assert shallow.num_layers == 2 and shallow.widths == [
        count_linear_pieces_1d(net, -3, 3)
    ]
    xs = torch.linspace(-3, 3, 301, dtype=torch.float64)
    torch.testing.assert_close(
        shallow.f1d(xs), net.f1d(xs), atol=1e-8, rtol=1e-8
    )


def test_counting_24_fold_layers_is_quick():
    start = time.perf_counter()
    assert count_identified_regions([abs_fold_layer(1)] * 24) == 2**24
    assert count_identified_regions([abs_fold_layer(3)] * 24) == 2 ** (24 * 3)
    assert count_identified_pieces([abs_fold_layer(3)] * 24) == 2 ** (24 * 3)
    assert time.perf_counter() - start < 2.0  # no 2^24-piece enumeration


def test_grouped_count_equals_the_enumeration():
    """The image-interval count against listing the pieces one by one."""
    chains = [
        [(3.0, -1.0), (2.0, -1.0), (-1.5, 1.2)],
        [(2.5, -0.7), (1.7, -0.2), (3.1, -1.4), (2.0, -1.0)],
        [(2.0, -1.0)] * 6,
        [(4.0, -2.0), (0.5, 0.0)],
    ]
    for chain in chains:
        listed = identified_intervals_1d(chain)
        assert count_identified_pieces(chain) == len(listed)
        assert len(fold_pieces_1d(chain)) >= len(listed)


NET2D = FeedForwardNetwork.random(
    [2, 3, 1], generator=torch.Generator().manual_seed(0)
)
SAW = sawtooth_network(1)
# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("network R^2 -> R", lambda: breakpoints_1d(NET2D, 0, 1),
        ValueError, "need a network R -> R, got R^2 -> R^1"),
    ("not a network", lambda: linear_pieces_1d(lambda x: x, 0, 1),
        TypeError, "net must be a FeedForwardNetwork, got function"),
    ("lo > hi", lambda: breakpoints_1d(SAW, 1, 0),
        ValueError, "need lo < hi, got lo=1, hi=0"),
    ("lo = hi", lambda: count_linear_pieces_1d(SAW, 0.5, 0.5),
        ValueError, "need lo < hi"),
    ("NaN lo", lambda: breakpoints_1d(SAW, float("nan"), 1),
        ValueError, "lo must be a finite number in (-inf, inf), got nan"),
    ("infinite hi", lambda: linear_pieces_1d(SAW, 0, float("inf")),
        ValueError, "hi must be a finite number in (-inf, inf), got inf"),
    ("bool hi", lambda: linear_pieces_1d(SAW, 0, True),
        TypeError, "hi must be a real number, got True (bool)"),
    ("exact positional", lambda: breakpoints_1d(SAW, 0, 1, True),
        TypeError, "positional argument"),
    ("exact not a bool", lambda: breakpoints_1d(SAW, 0, 1, exact="yes"),
        TypeError, "exact must be True or False, got 'yes'"),
    ("tanh has no pieces", lambda: linear_pieces_1d(FeedForwardNetwork.random([1, 2, 1], activation="tanh"), 0, 1),
        ValueError, "a tanh network is smooth"),
    ("sawtooth of 0 layers", lambda: sawtooth_network(0),
        ValueError, "k (the number of hidden layers) must be an int >= 1, got 0"),
    ("sawtooth of 2.0 layers", lambda: sawtooth_network(2.0),
        TypeError, "k (the number of hidden layers) must be an int >= 1, got 2.0"),
    ("sawtooth of True layers", lambda: sawtooth_network(True),
        TypeError, "got True (bool)"),
    ("too many pieces", lambda: count_linear_pieces_1d(sawtooth_network(19), 0, 1),
        ValueError, "more than MAX_PIECES = 4096 linear pieces"),
    ("sawtooth of 10^9 layers", lambda: sawtooth_network(10**9),
        ValueError, "must be <= 1000, got 1000000000: float64 cannot resolve"),
    ("fold layer of d = 10^5", lambda: abs_fold_layer(10**5),
        ValueError, "abs_fold_layer(100000) W would have 10000000000 entries"),
    ("fold layer of d = 0", lambda: abs_fold_layer(0),
        ValueError, "d must be an int >= 1, got 0"),
    ("fold layer of d = 1.5", lambda: abs_fold_layer(1.5),
        TypeError, "d must be an int >= 1, got 1.5 (float)"),
    ("mixing W", lambda: count_identified_regions([(torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.zeros(2))]),
        ValueError, "at most one nonzero entry in each row and column"),
    ("W not square", lambda: count_identified_regions([(torch.ones(2, 3), torch.zeros(2))]),
        ValueError, "layers[0] must be a square W (d, d) and b (d,), got W (2, 3)"),
    ("d changes", lambda: count_identified_regions([abs_fold_layer(2), abs_fold_layer(3)]),
        ValueError, "layers[1]: W is (3, 3) but layers[0] works in d = 2"),
    ("layer not a pair", lambda: count_identified_regions([3.0]),
        ValueError, "layers[0] must be a pair (W, b), got float"),
    ("no layers", lambda: count_identified_regions([]),
        ValueError, "layers must hold at least one pair (W, b), got none"),
    ("layers not a list", lambda: count_identified_regions(3),
        TypeError, "layers must be a list of pairs (W, b), got int"),
    ("NaN in W", lambda: count_identified_regions([(float("nan"), 0.0)]),
        ValueError, "W of layers[0] must be finite"),
    ("bool W", lambda: count_identified_regions([(True, 0.0)]),
        TypeError, "W of layers[0] must hold real numbers, got torch.bool"),
    ("box lo > hi", lambda: count_identified_regions([(2.0, -1.0)], 1, 0),
        ValueError, "need lo < hi, got lo=1, hi=0"),
    ("chain entry not a pair", lambda: fold_pieces_1d([(2.0,)]),
        ValueError, "chain[0] must be a pair (w, b), got (2.0,)"),
    ("chain NaN", lambda: identified_intervals_1d([(2.0, float("nan"))]),
        ValueError, "chain[0][1] must be a finite number"),
    ("too many to list", lambda: identified_boxes([abs_fold_layer(2)] * 9),
        ValueError, "there are 262144 identified regions, more than MAX_LISTED_REGIONS = 65536 to list"),
    ("fit kinks outside [0, 1]", lambda: relu_fit_l1(SAW, [0.5, 1.5]),
        ValueError, "kinks must lie in [0, 1], got [0.5, 1.5]"),
    ("fit target not a network", lambda: relu_fit_l1(abs, [0.5]),
        TypeError, "net must be a FeedForwardNetwork"),
    ("fit grid of 1 interval", lambda: relu_fit_l1(SAW, [0.5], num=1),
        ValueError, "num must be an int >= 2, got 1"),
    ("too many pieces to list", lambda: fold_pieces_1d([(2.0, -1.0)] * 19),
        ValueError, "fold layer 13: more than MAX_PIECES = 4096"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    start = time.perf_counter()
    refused(*bad_input)
    assert time.perf_counter() - start < 10  # refused, not after hours


# --- identified regions (seed 004 §3) ---------------------------------


@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_fold_layer_identifies_2_to_the_Ld_regions(L, d):
    assert count_identified_regions([abs_fold_layer(d)] * L) == 2 ** (L * d)
    assert count_identified_pieces([abs_fold_layer(d)] * L) == 2 ** (L * d)


def test_fold_layer_shape():
    w, b = abs_fold_layer(3)
    torch.testing.assert_close(w, 2 * torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(b, -torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([(3.0, -1.0)], 2),  # |3x-1|: (0,1/3) -> (0,1) and (1/3,2/3) -> (0,1)
        ([(3.0, -1.0), (3.0, -1.0)], 4),
        ([(1.0, 0.0)], 1),  # the identity on (0, 1)
        ([(2.0, 0.0)], 1),  # (0, 1/2) -> (0, 1); the rest overshoots
        ([(0.5, 0.0)], 0),  # shrinks: never covers (0, 1)
        ([(-1.0, 1.0)], 1),  # 1 - x
        ([(4.0, -2.0)], 2),  # |4x-2| folds at 1/2: (1/4,1/2) and (1/2,3/4)
        ([(2.0, -1.0), (0.5, 0.0)], 0),  # a fold followed by a shrink
        ([(0.0, 0.5)], 0),  # constant
    ],
)
def test_hand_derived_counts_1d(layers, expected):
    assert count_identified_regions(layers) == expected
    assert count_identified_pieces(layers) == expected


def test_identified_intervals_map_onto_the_box():
    chain = [(3.0, -1.0), (2.0, -1.0), (-1.5, 1.2)]
    intervals = identified_intervals_1d(chain)
    assert len(intervals) == count_identified_pieces(chain) > 0
    for a, b in intervals:
        xs = torch.linspace(float(a), float(b), 101, dtype=torch.float64)
        ys = xs
        for w, c in chain:
            ys = (w * ys + c).abs()
        assert torch.isclose(
            ys[[0, -1]].sort().values,
            torch.tensor([0.0, 1.0], dtype=torch.float64),
        ).all()
        assert (ys.diff() > 0).all() or (
            ys.diff() < 0
        ).all()  # monotone: a bijection onto (0, 1)
    assert all(
        b1 <= a2 for (_, b1), (a2, _) in zip(intervals[:-1], intervals[1:])
    )  # disjoint


DIAG = (torch.diag(torch.tensor([2.0, 3.0])), torch.tensor([-1.0, -1.0]))
SWAP = (torch.tensor([[0.0, 2.0], [3.0, 0.0]]), torch.tensor([-1.0, -1.0]))
SHRINK = (torch.diag(torch.tensor([3.0, 0.5])), torch.tensor([-1.0, 0.0]))


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([DIAG], 4),  # |2x - 1| (2 regions) times |3y - 1| (2 regions)
        # coordinate 0 gets folded by 3 then by 2 (via the swap), coordinate
        # 1 by 2 then by 3: 4 regions each
        ([SWAP, SWAP], 16),
        # the swap, then a layer that treats the coordinates differently:
        # out_0 = |3 |2 x_1 - 1| - 1| (2 x 2 = 4 regions of x_1) and
        # out_1 = |3 x_0 - 1| / 2, which covers (0, 1) only on (1/3, 1)
        # (1 region of x_0): 4. Losing the swap's permutation would pair
        # the second layer with the wrong coordinates: |3|3x - 1| - 1| (4)
        # times |2x - 1| / 2 (never covers, 0).
        ([SWAP, SHRINK], 4),
        # out_0 = |2 (x_1 / 2) - 1| = 1 - x_1 (1 region), out_1 =
        # |3 |3 x_0 - 1| - 1| (4 regions): 4
        ([SHRINK, SWAP], 4),
        # out_0 = |2 |2 x_1 - 1| - 1| (4), out_1 = |3 |3 x_0 - 1| - 1| (4)
        ([SWAP, DIAG], 16),
        ([SWAP, (torch.zeros(2, 2), torch.zeros(2))], 0),  # constant
    ],
)
def test_multi_d_products_and_permutations(layers, expected):
    assert count_identified_pieces(layers) == expected
    assert count_identified_regions(layers) == expected
    assert count_regions_by_sampling(layers) == expected


def test_sampling_reference_agrees_on_the_1d_chains():
    for chain in (
        [(3.0, -1.0), (2.0, -1.0), (-1.5, 1.2)],
        [(2.5, -0.7), (1.7, -0.2), (3.1, -1.4)],
        [(2.0, -1.0), (0.5, 0.0)],
    ):
        assert count_regions_by_sampling(chain) == count_identified_pieces(
            chain
        )


def test_identified_boxes_list_the_counted_regions():
    for layers in (
        [abs_fold_layer(2)] * 2,
        [(torch.diag(torch.tensor([3.0, 2.0])), torch.tensor([-1.0, -1.0]))],
    ):
        boxes = identified_boxes(layers)
        assert len(boxes) == count_identified_pieces(layers)
        volume = sum((b[0][1] - b[0][0]) * (b[1][1] - b[1][0]) for b in boxes)
        assert 0 < volume <= 1  # disjoint boxes inside the unit square
    assert identified_boxes([(torch.zeros(2, 2), torch.zeros(2))]) == []
    assert (
        count_identified_regions(
            [(torch.diag(torch.tensor([2.0, 0.0])), torch.zeros(2))]
        )
        == 0
    )


# --- the two notions of identified region against brute force -----------
#
# The oracles below share nothing with hwlib.regions: they run the 1-D fold
# stack t -> |w t + b| forwards point by point and invert it backwards
# (|w t + b| = y has the solutions t = (+-y - b) / w), in exact rationals.


def _forward(chain, x):
    for w, b in chain:
        x = abs(w * x + b)
    return x


def _preimages(chain, y):
    """Every real x with chain(x) = y (a list; no domain restriction)."""
    values = [y]
    for w, b in reversed(chain):
        values = [
            (s * v - b) / w
            for v in values
            if v >= 0
            for s in ((1,) if v == 0 else (1, -1))
        ]
    return values


def _kinks(chain, lo, hi):
    """The x in (lo, hi) where some pre-activation w_k h_(k-1) + b_k is 0."""
    found = set()
    for k, (w, b) in enumerate(chain):
        found |= set(_preimages(chain[:k], -b / w))
    return sorted(x for x in found if lo < x < hi)


def regions_oracle(chain, lo=Fraction(0), hi=Fraction(1)):
    """min over y in (lo, hi) of #{x in (lo, hi) : chain(x) = y}.

    The count can change only at the values f takes at its kinks and at
    lo, hi (f is continuous and monotone between kinks), so it is
    evaluated at those values and between consecutive ones.
    """
    ends = [lo, *_kinks(chain, lo, hi), hi]
    critical = sorted({_forward(chain, x) for x in ends} | {lo, hi})
    critical = [y for y in critical if lo <= y <= hi]
    gaps = [(a + c) / 2 for a, c in zip(critical, critical[1:])]
    candidates = [y for y in critical if lo < y < hi] + gaps
    return min(
        sum(lo < x < hi for x in _preimages(chain, y)) for y in candidates
    )


def pieces_oracle(chain, lo=Fraction(0), hi=Fraction(1)):
    """#{linear pieces between consecutive kinks whose image holds (lo, hi)}."""
    ends = [lo, *_kinks(chain, lo, hi), hi]
    count = 0
    for a, c in zip(ends, ends[1:]):
        fa, fc = _forward(chain, a), _forward(chain, c)
        count += fa != fc and min(fa, fc) <= lo and max(fa, fc) >= hi
    return count


COUNTER_EXAMPLE = [(2.25, -1.5), (-1.25, 1.0)]
# the minimum is taken at a single point, the image of a cut (found by a
# search over random stacks): a counter that forgets the cut points gets 1
POINT_MATTERS = [(1.5, -1.0), (-1.5, 0.625), (-1.5, 1.125)]


def _exact(chain):
    return [(Fraction(w), Fraction(b)) for w, b in chain]


# dyadic weights: their floats are exactly these rationals
DYADIC_W = st.builds(
    lambda n, q: n / q,
    st.integers(1, 12) | st.integers(-12, -1),
    st.sampled_from([1, 2, 4, 8]),
)
DYADIC_B = st.integers(-16, 16).map(lambda m: m / 8)
CHAINS = st.lists(st.tuples(DYADIC_W, DYADIC_B), min_size=1, max_size=4)


def test_the_counter_example_of_the_two_notions():
    """One affine piece covers (0, 1), but every y has >= 2 preimages."""
    chain = _exact(COUNTER_EXAMPLE)
    assert (
        pieces_oracle(chain) == count_identified_pieces(COUNTER_EXAMPLE) == 1
    )
    assert regions_oracle(chain) == count_identified_regions(COUNTER_EXAMPLE)
    assert count_identified_regions(COUNTER_EXAMPLE) == 2
    for y in (
        Fraction(1, 100),
        Fraction(1, 2),
        Fraction(7, 8),
        Fraction(99, 100),
    ):
        assert sum(0 < x < 1 for x in _preimages(chain, y)) >= 2


@settings(max_examples=300, deadline=None)
@given(CHAINS)
def test_both_counts_equal_their_brute_force_oracle(chain):
    exact = _exact(chain)
    assert count_identified_regions(chain) == regions_oracle(exact)
    assert count_identified_pieces(chain) == pieces_oracle(exact)
    assert count_identified_pieces(chain) <= count_identified_regions(chain)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 3).flatmap(
        lambda d: st.tuples(
            st.lists(
                CHAINS.filter(lambda c: len(c) == 2), min_size=d, max_size=d
            ),
            st.lists(st.permutations(range(d)), min_size=2, max_size=2),
        )
    )
)
def test_products_of_chains_with_permutations(chains_and_perms):
    """A d-dim stack built from d known chains, coordinates permuted per
    layer: both counts are the products of the chains' oracle counts."""
    chains, perms = chains_and_perms
    d = len(chains)
    where = list(range(d))  # where[i]: the position of input coordinate i
    layers = []
    for step, perm in enumerate(perms):
        w, b = torch.zeros(d, d, dtype=torch.float64), torch.zeros(d)
        for i, chain in enumerate(chains):
            w[perm[where[i]], where[i]], b[perm[where[i]]] = chain[step]
            where[i] = perm[where[i]]
        layers.append((w, b.double()))
    regions = pieces = 1
    for chain in chains:
        regions *= regions_oracle(_exact(chain))
        pieces *= pieces_oracle(_exact(chain))
    assert count_identified_regions(layers) == regions
    assert count_identified_pieces(layers) == pieces


def test_the_oracle_comparisons_can_fail(monkeypatch):
    """Mutations: each broken counter disagrees with an oracle."""
    counter, point = _exact(COUNTER_EXAMPLE), _exact(POINT_MATTERS)
    # counting pieces where regions are asked (the old, narrower counter)
    assert count_identified_pieces(COUNTER_EXAMPLE) != regions_oracle(counter)
    # counting regions where pieces are asked
    assert count_identified_regions(COUNTER_EXAMPLE) != pieces_oracle(counter)
    # forgetting the cut points (the sweep then misses a dip at one value)
    assert count_identified_regions(POINT_MATTERS) == regions_oracle(point)
    real = regions_module._fold_values

    def without_points(*args):
        intervals, _ = real(*args)
        return intervals, Counter()

    monkeypatch.setattr(regions_module, "_fold_values", without_points)
    assert count_identified_regions(POINT_MATTERS) != regions_oracle(point)


def _stack(layers, x):
    for w, b in layers:
        w = torch.as_tensor(w, dtype=torch.float64).reshape(len(x[0]), -1)
        x = (x @ w.T + torch.as_tensor(b, dtype=torch.float64)).abs()
    return x


@pytest.mark.parametrize(
    "layers",
    [
        [abs_fold_layer(2)] * 2,
        [
            DIAG,
            (torch.diag(torch.tensor([-3.0, 2.0])), torch.tensor([1.5, -1.0])),
        ],
        [(3.0, -1.0), (2.0, -1.0), (-1.5, 1.2)],  # d = 1, numbers
    ],
)
def test_box_orientations_against_the_corners(layers):
    """A box's low corner goes to hi on a reversed axis, to lo on a kept one
    (diagonal stacks: output axis i is input axis i)."""
    boxes, flips = identified_boxes(layers), box_orientations(layers)
    assert len(boxes) == len(flips) > 0
    for box, flip in zip(boxes, flips):
        low = torch.tensor([[float(a) for a, _ in box]], dtype=torch.float64)
        image = _stack(layers, low)[0].tolist()
        assert image == pytest.approx([float(f) for f in flip])


def test_box_orientations_neighbours_differ_in_one_axis():
    layers = [abs_fold_layer(2)] * 3
    flips = dict(zip(identified_boxes(layers), box_orientations(layers)))
    for a in flips:
        for b in flips:
            if a[0][1] == b[0][0] and a[1] == b[1]:
                assert flips[a] == (not flips[b][0], flips[b][1])
    assert box_orientations([(torch.zeros(2, 2), torch.zeros(2))]) == []


# --- the L1 fits of the depth-separation check -----------------------------


def test_relu_fit_is_exact_on_its_own_span():
    """A g of the fitted form is reproduced: distance 0 (to rounding)."""
    g = FeedForwardNetwork(
        [[[1.0], [1.0], [1.0]], [[2.0, -3.0, 1.5]]],
        [[0.0, -0.25, -0.7], [0.3]],
    )
    assert relu_fit_l1(g, [0.25, 0.7]) < 1e-10
    assert relu_fit_l1(g, [0.25]) > 1e-3  # one kink short: it shows


def test_relu_fit_distance_against_an_exact_integral():
    """The constant fit of a tent: exactly 1/4 on [0, 1] (trapezoid exact)."""
    tent = sawtooth_network(1)  # up on [0, 1/2], down on [1/2, 1]
    assert relu_fit_l1(tent, []) == pytest.approx(0.25, abs=1e-6)


def test_the_depth_separation_check_can_fail():
    """Mutations of the chapter's claim: each false version fires.

    The bound (1 - m / 2^(L-1)) / 4 holds for every placement; the old,
    stronger claim "no fit beats the constant 1/2" (true only for kinks at
    tooth boundaries, by construction) is false for kinks of f, and so is
    a bound that ignores m.
    """
    L, saw = 6, sawtooth_network(6)
    own = breakpoints_1d(saw, 0, 1)
    m = 16
    inside = relu_fit_l1(saw, own[:m])
    boundaries = relu_fit_l1(saw, [j / m for j in range(1, m)])
    assert inside >= (1 - m / 2 ** (L - 1)) / 4  # the true bound holds
    assert boundaries == pytest.approx(0.25, abs=1e-6)  # by construction
    assert not inside >= 0.25 - 1e-3  # "no better than 1/2" fires
    assert not relu_fit_l1(saw, own) >= 0.25 - 1e-3  # a bound without m


@settings(max_examples=200, deadline=None)
@given(CHAINS)
def test_the_checks_own_count_equals_the_brute_force_oracle(chain):
    """hwlib.check grades with its own counter (it imports no answer):
    it must count the same notion as the oracle above."""
    layers = [(torch.tensor([[w]]), torch.tensor([b])) for w, b in chain]
    assert check_regions.identified_count(layers) == regions_oracle(
        _exact(chain)
    )
