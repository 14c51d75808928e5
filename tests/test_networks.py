import pytest
import torch

from hwlib.networks import ReLUNetwork, convexity_report, interpolate_networks, second_differences


def manual_forward(weights, biases, x, sigma):
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = h @ torch.as_tensor(w, dtype=torch.float64).T + torch.as_tensor(b, dtype=torch.float64)
        if i < len(weights) - 1:
            h = sigma(h)
    return h


@pytest.mark.parametrize("activation, sigma", [("relu", torch.relu), ("abs", torch.abs), ("tanh", torch.tanh)])
def test_forward_matches_formula(activation, sigma):
    g = torch.Generator().manual_seed(1)
    sizes = [3, 5, 4, 2]
    ws = [torch.randn(o, i, generator=g, dtype=torch.float64) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [torch.randn(o, generator=g, dtype=torch.float64) for o in sizes[1:]]
    net = ReLUNetwork(ws, bs, activation)
    x = torch.randn(10, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(net(x), manual_forward(ws, bs, x, sigma))
    assert net.num_layers == 3 and net.widths == [5, 4]
    assert net.in_features == 3 and net.out_features == 2


def test_matches_torch_nn_sequential():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    net = ReLUNetwork([seq[0].weight, seq[2].weight], [seq[0].bias, seq[2].bias])
    x = torch.randn(7, 2, dtype=torch.float64)
    torch.testing.assert_close(net(x), seq(x))


def test_accepts_nested_lists_and_f1d():
    net = ReLUNetwork([[[1.0], [-1.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])  # |x|
    xs = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(net.f1d(xs), xs.abs().double())


def test_shape_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"layer 2: W_2 has shape \(1, 6\).*W_1 has shape \(5, 1\)"):
        ReLUNetwork([torch.ones(5, 1), torch.ones(1, 6)], [torch.zeros(5), torch.zeros(1)])
    with pytest.raises(ValueError, match=r"layer 1: b_1 has shape \(4,\).*must have shape \(5,\)"):
        ReLUNetwork([torch.ones(5, 1), torch.ones(1, 5)], [torch.zeros(4), torch.zeros(1)])
    with pytest.raises(ValueError, match="2 weight matrices but 1 bias"):
        ReLUNetwork([torch.ones(5, 1), torch.ones(1, 5)], [torch.zeros(5)])
    with pytest.raises(ValueError, match="must be a matrix"):
        ReLUNetwork([torch.ones(5)], [torch.zeros(5)])
    with pytest.raises(ValueError, match="activation must be one of"):
        ReLUNetwork([torch.ones(1, 1)], [torch.zeros(1)], activation="sigmoid")
    with pytest.raises(ValueError, match="at least one weight matrix"):
        ReLUNetwork([], [])


def test_input_shape_errors():
    net = ReLUNetwork.random([2, 3, 1], generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"input must have shape \(N, 2\), got \(4, 3\)"):
        net(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="f1d needs a network R -> R"):
        net.f1d(torch.zeros(3))
    with pytest.raises(ValueError, match="sizes must list"):
        ReLUNetwork.random([3])


def test_random_is_seeded():
    a = ReLUNetwork.random([1, 4, 1], generator=torch.Generator().manual_seed(3))
    b = ReLUNetwork.random([1, 4, 1], generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_parameters_are_differentiable():
    net = ReLUNetwork.random([1, 3, 1], generator=torch.Generator().manual_seed(0))
    net(torch.ones(2, 1, dtype=torch.float64)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_interpolate_networks_is_affine_in_t():
    g = torch.Generator().manual_seed(2)
    a, b = ReLUNetwork.random([1, 3, 1], generator=g), ReLUNetwork.random([1, 3, 1], generator=g)
    mid = interpolate_networks(a, b, 0.25)
    for pm, pa, pb in zip(mid.parameters(), a.parameters(), b.parameters()):
        torch.testing.assert_close(pm, 0.75 * pa + 0.25 * pb)
    with pytest.raises(ValueError, match="networks differ"):
        interpolate_networks(a, ReLUNetwork.random([1, 4, 1], generator=g), 0.5)


def test_convexity_report_on_known_functions():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)
    assert convexity_report(x.abs()) == {"convex": True, "concave": False, "linear": False}
    assert convexity_report(-x.abs()) == {"convex": False, "concave": True, "linear": False}
    assert convexity_report(3 * x + 1)["linear"]
    assert convexity_report(torch.sin(3 * x)) == {"convex": False, "concave": False, "linear": False}
    torch.testing.assert_close(second_differences(x**2), torch.full((39,), 2 * 0.1**2, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 3 samples"):
        second_differences(torch.ones(2))
