from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwlib.networks import ReLUNetwork
from hwlib.regions import (
    abs_fold_layer,
    breakpoints_1d,
    count_identified_regions,
    count_linear_pieces_1d,
    identified_intervals_1d,
    linear_pieces_1d,
    sawtooth_network,
    shallow_equivalent,
)


@st.composite
def small_networks(draw, activation="relu"):
    depth = draw(st.integers(1, 3))
    sizes = [1] + [draw(st.integers(1, 4)) for _ in range(depth)] + [1]
    value = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 2))  # includes exact zeros and ties
    ws = [[[draw(value) for _ in range(i)] for _ in range(o)] for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [[draw(value) for _ in range(o)] for o in sizes[1:]]
    return ReLUNetwork(ws, bs, activation)


def assert_linear_on(net, a, b, n=7, tol=1e-9):
    """Dense-sampling reference: f is affine on [a, b] (all samples on one line)."""
    xs = torch.linspace(a, b, n, dtype=torch.float64)
    ys = net.f1d(xs).detach()
    line = ys[0] + (ys[-1] - ys[0]) * (xs - a) / (b - a)
    assert (ys - line).abs().max() <= tol * (1 + ys.abs().max())


@settings(max_examples=60, deadline=None)
@given(small_networks(), st.sampled_from(["relu", "abs"]))
def test_pieces_agree_with_dense_sampling(net, activation):
    net.activation = activation
    lo, hi = -4.0, 4.0
    pieces = linear_pieces_1d(net, lo, hi)
    # pieces tile (lo, hi) in order
    assert pieces[0].left == lo and pieces[-1].right == hi
    assert all(p.right == q.left for p, q in zip(pieces[:-1], pieces[1:]))
    for p in pieces:  # the network is affine on each piece and equals the piece's map
        a, b = float(p.left), float(p.right)
        xs = torch.linspace(a, b, 5, dtype=torch.float64)
        expected = float(p.slope[0]) * xs + float(p.intercept[0])
        torch.testing.assert_close(net.f1d(xs).detach(), expected, atol=1e-8, rtol=1e-8)
    for t in breakpoints_1d(net, lo, hi):  # each breakpoint is a real change of slope
        h = 1e-4 * min([1.0] + [abs(t - s) for s in breakpoints_1d(net, lo, hi) if s != t])
        ys = net.f1d(torch.tensor([t - h, t, t + h], dtype=torch.float64)).detach()
        left, right = (ys[1] - ys[0]) / h, (ys[2] - ys[1]) / h
        assert abs(left - right) > 1e-6 * (1 + abs(left))
    edges = [lo] + breakpoints_1d(net, lo, hi) + [hi]  # between breakpoints, no hidden kink
    for a, b in zip(edges[:-1], edges[1:]):
        assert_linear_on(net, a, b)


def test_cancelled_kinks_are_not_breakpoints():
    # ReLU(x) - ReLU(-x) = x and ReLU(x) + ReLU(x) - 2 ReLU(x) = 0 have no kinks
    identity = ReLUNetwork([[[1.0], [-1.0]], [[1.0, -1.0]]], [[0.0, 0.0], [0.0]])
    zero = ReLUNetwork([[[1.0], [1.0], [1.0]], [[1.0, 1.0, -2.0]]], [[0.0, 0.0, 0.0], [0.0]])
    assert breakpoints_1d(identity, -5, 5) == [] and count_linear_pieces_1d(zero, -5, 5) == 1
    # a kink hidden in layer 1 that layer 2 cancels exactly
    net = ReLUNetwork([[[1.0]], [[1.0], [1.0]], [[1.0, -1.0]]], [[0.0], [0.0, 0.0], [0.0]])
    assert breakpoints_1d(net, -1, 1) == []


def test_hand_derived_breakpoints():
    abs_net = ReLUNetwork([[[1.0]], [[1.0]]], [[0.0], [0.0]], activation="abs")
    assert breakpoints_1d(abs_net, -1, 1) == [0.0]
    k = 5
    wide = ReLUNetwork([torch.ones(k, 1), torch.ones(1, k)], [-torch.arange(k, dtype=torch.float64), torch.zeros(1)])
    assert breakpoints_1d(wide, -10, 10) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert breakpoints_1d(wide, 0.5, 2.5) == [1.0, 2.0]  # only the points inside (lo, hi)
    tanh_net = ReLUNetwork.random([1, 3, 1], activation="tanh", generator=torch.Generator().manual_seed(0))
    assert breakpoints_1d(tanh_net, -1, 1) == []
    with pytest.raises(ValueError, match="smooth"):
        linear_pieces_1d(tanh_net, -1, 1)


@pytest.mark.parametrize("k", range(1, 9))
def test_sawtooth_has_2_to_the_k_pieces(k):
    net = sawtooth_network(k)
    assert net.widths == [2] * k
    assert count_linear_pieces_1d(net, 0, 1) == 2**k
    assert breakpoints_1d(net, 0, 1, exact=True) == [Fraction(j, 2**k) for j in range(1, 2**k)]


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
    assert shallow.num_layers == 2 and shallow.widths == [count_linear_pieces_1d(net, -3, 3)]
    xs = torch.linspace(-3, 3, 301, dtype=torch.float64)
    torch.testing.assert_close(shallow.f1d(xs), net.f1d(xs), atol=1e-8, rtol=1e-8)


def test_bad_inputs():
    net2d = ReLUNetwork.random([2, 3, 1], generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"need a network R -> R, got R\^2 -> R\^1"):
        breakpoints_1d(net2d, 0, 1)
    with pytest.raises(ValueError, match="need lo < hi"):
        breakpoints_1d(sawtooth_network(1), 1, 0)
    with pytest.raises(ValueError, match="positive integer"):
        sawtooth_network(0)


# --- identified regions (seed 004 §3) ------------------------------------------------------


@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_fold_layer_identifies_2_to_the_Ld_regions(L, d):
    assert count_identified_regions([abs_fold_layer(d)] * L) == 2 ** (L * d)


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


def test_identified_intervals_map_onto_the_box():
    chain = [(3.0, -1.0), (2.0, -1.0), (-1.5, 1.2)]
    intervals = identified_intervals_1d(chain)
    assert len(intervals) == count_identified_regions(chain) > 0
    for a, b in intervals:
        xs = torch.linspace(float(a), float(b), 101, dtype=torch.float64)
        ys = xs
        for w, c in chain:
            ys = (w * ys + c).abs()
        assert torch.isclose(ys[[0, -1]].sort().values, torch.tensor([0.0, 1.0], dtype=torch.float64)).all()
        assert (ys.diff() > 0).all() or (ys.diff() < 0).all()  # monotone: a bijection onto (0, 1)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(intervals[:-1], intervals[1:]))  # disjoint


def test_multi_d_products_and_permutations():
    diag = (torch.diag(torch.tensor([2.0, 3.0])), torch.tensor([-1.0, -1.0]))
    assert count_identified_regions([diag]) == 4
    swap = (torch.tensor([[0.0, 2.0], [3.0, 0.0]]), torch.tensor([-1.0, -1.0]))
    # coordinate 0 gets folded by 3 then by 2 (via the swap), coordinate 1 by 2 then by 3
    assert count_identified_regions([swap, swap]) == count_identified_regions([(2, -1), (3, -1)]) ** 2 == 16


def test_unsupported_layers_are_refused():
    mixing = (torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.zeros(2))
    with pytest.raises(ValueError, match="at most one nonzero entry in each row and column"):
        count_identified_regions([mixing])
    with pytest.raises(ValueError, match=r"square W \(d, d\)"):
        count_identified_regions([(torch.ones(2, 3), torch.zeros(2))])
    with pytest.raises(ValueError, match="first layer works in d = 2"):
        count_identified_regions([abs_fold_layer(2), abs_fold_layer(3)])
    with pytest.raises(ValueError, match="pair"):
        count_identified_regions([3.0])
    with pytest.raises(ValueError, match="at least one layer"):
        count_identified_regions([])


def test_identified_boxes_list_the_counted_regions():
    from hwlib.regions import identified_boxes

    for layers in ([abs_fold_layer(2)] * 2, [(torch.diag(torch.tensor([3.0, 2.0])), torch.tensor([-1.0, -1.0]))]):
        boxes = identified_boxes(layers)
        assert len(boxes) == count_identified_regions(layers)
        volume = sum((b[0][1] - b[0][0]) * (b[1][1] - b[1][0]) for b in boxes)
        assert 0 < volume <= 1  # disjoint boxes inside the unit square
    assert identified_boxes([(torch.zeros(2, 2), torch.zeros(2))]) == []
    assert count_identified_regions([(torch.diag(torch.tensor([2.0, 0.0])), torch.zeros(2))]) == 0
