import itertools
import random

import pytest
import torch

from hwlib.gates import (
    and_neuron,
    boolean_network,
    boolean_points,
    evaluate_boolean,
    linearly_separable,
    nand_network,
    or_network,
    or_neuron,
    separating_hyperplane,
    threshold_unit,
    xor_network,
)


def grid_with_axes():
    """A grid that contains the axes and the origin exactly, plus tiny offsets from them."""
    ticks = torch.cat([torch.linspace(-3, 3, 61), torch.tensor([0.0, -1e-9, 1e-9, -1e-300, 1e-300])]).double()
    return torch.cartesian_prod(ticks, ticks)


def test_or_network_sign_on_grid_and_axes():
    net = or_network()
    assert net.num_layers == 2 and net.widths == [2]
    x = grid_with_axes()
    expected = (x[:, 0] > 0) | (x[:, 1] > 0)
    assert torch.equal(net(x)[:, 0] > 0, expected)


def test_xor_network_sign_on_grid_and_axes():
    net = xor_network()
    assert net.num_layers <= 3 and max(net.widths) <= 4
    x = grid_with_axes()
    x1, x2 = x[:, 0], x[:, 1]
    expected = ((x1 < 0) & (x2 > 0)) | ((x1 > 0) & (x2 < 0))
    assert torch.equal(net(x)[:, 0] > 0, expected)
    on_axes = (x1 == 0) | (x2 == 0)
    assert on_axes.sum() > 100
    assert (net(x[on_axes]) <= 0).all()  # the axes come out non-positive


def test_nand_network_truth_table():
    assert evaluate_boolean(nand_network(), 2) == [1, 1, 1, 0]
    out = nand_network()(boolean_points(2))[:, 0]
    assert torch.equal(out, torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64))  # exact 0/1 values


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_boolean_network_on_every_table_or_random_tables(n):
    rng = random.Random(n)
    tables = (
        [list(t) for t in itertools.product([0, 1], repeat=2**n)]
        if n <= 2
        else [[rng.randint(0, 1) for _ in range(2**n)] for _ in range(50)]
    )
    for table in tables + [[0] * 2**n, [1] * 2**n]:
        net = boolean_network(table, n)
        assert evaluate_boolean(net, n) == table
        out = net(boolean_points(n))[:, 0]
        assert torch.equal(out, out.round())  # exactly 0 or 1, not just close


def test_boolean_network_from_callables():
    majority = boolean_network(lambda a, b, c: a + b + c >= 2, 3)
    parity = boolean_network(lambda a, b, c: (a + b + c) % 2, 3)
    rows = list(itertools.product([0, 1], repeat=3))
    assert evaluate_boolean(majority, 3) == [int(sum(r) >= 2) for r in rows]
    assert evaluate_boolean(parity, 3) == [sum(r) % 2 for r in rows]
    assert parity.widths == [4, 1]  # one first-layer NAND block per true row


def test_boolean_network_bad_inputs():
    with pytest.raises(ValueError, match="needs 4 entries, got 3"):
        boolean_network([0, 1, 1], 2)
    with pytest.raises(ValueError, match="0/1 or booleans"):
        boolean_network([0, 2, 1, 1], 2)
    with pytest.raises(ValueError, match="positive integer"):
        boolean_network([1], 0)


def test_threshold_and_or():
    x = boolean_points(2)
    assert threshold_unit(*and_neuron(), x).tolist() == [0, 0, 0, 1]
    assert threshold_unit(*or_neuron(), x).tolist() == [0, 1, 1, 1]
    with pytest.raises(ValueError, match=r"w of shape \(d,\) and x of shape \(N, d\)"):
        threshold_unit([1.0, 1.0, 1.0], 0.0, x)


def all_labelings_separability_by_brute_force(points):
    """Reference: try every threshold unit with small integer weights (enough for {0,1}^2)."""
    found = set()
    vals = range(-3, 4)
    for w1, w2, b2 in itertools.product(vals, vals, range(-7, 8)):
        out = threshold_unit([w1, w2], b2 / 2, points)
        found.add(tuple(out.tolist()))
    return found


def test_linearly_separable_matches_brute_force_on_all_16_functions():
    points = boolean_points(2)
    realizable = all_labelings_separability_by_brute_force(points)
    for labels in itertools.product([0, 1], repeat=4):
        sep = linearly_separable(points, torch.tensor(labels))
        assert sep == (labels in realizable), labels
        if sep:  # the returned unit is a certificate
            w, b = separating_hyperplane(points, torch.tensor(labels))
            assert threshold_unit(w, b, points).tolist() == list(labels)
    assert sum(linearly_separable(points, torch.tensor(l)) for l in itertools.product([0, 1], repeat=4)) == 14


def test_parity_3_is_not_separable_and_majority_is():
    p = boolean_points(3)
    assert not linearly_separable(p, torch.tensor([int(sum(r)) % 2 for r in p.tolist()]))
    assert linearly_separable(p, torch.tensor([int(sum(r) >= 2) for r in p.tolist()]))


def test_linearly_separable_bad_inputs():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        linearly_separable(boolean_points(2), torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"labels of shape \(N,\)"):
        linearly_separable(boolean_points(2), torch.tensor([0, 1]))
