import pytest
import torch
import torch.nn.functional as F

from hwlib.nn import SGD, CrossEntropyLoss, Linear, ReLU, Sequential, mlp


def test_linear_forward_backward_match_autograd(device):
    g = torch.Generator(device=device).manual_seed(0)
    layer = Linear(5, 3, generator=g, device=device, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64, device=device, requires_grad=True)
    w, b = layer.weight.clone().requires_grad_(True), layer.bias.clone().requires_grad_(True)
    out = F.linear(x, w, b)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    torch.testing.assert_close(layer.forward(x.detach()), out.detach())
    torch.testing.assert_close(layer.backward(upstream), x.grad)
    torch.testing.assert_close(layer.grad_weight, w.grad)
    torch.testing.assert_close(layer.grad_bias, b.grad)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)


def test_linear_init_matches_torch_bounds():
    layer = Linear(400, 300, generator=torch.Generator().manual_seed(0))
    bound = 1 / 400**0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.95 * bound
    assert abs(layer.weight.std().item() - bound / 3**0.5) < 0.01 * bound


def test_linear_wrong_width_names_both_widths():
    with pytest.raises(ValueError, match="input width 7 vs in_features 5"):
        Linear(5, 3).forward(torch.zeros(2, 7))


def test_relu_backward_matches_autograd(device):
    x = torch.randn(6, 4, dtype=torch.float64, device=device, requires_grad=True)
    upstream = torch.randn(6, 4, dtype=torch.float64, device=device)
    torch.relu(x).backward(upstream)
    relu = ReLU()
    torch.testing.assert_close(relu.forward(x.detach()), torch.relu(x.detach()))
    torch.testing.assert_close(relu.backward(upstream), x.grad)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_cross_entropy_matches_autograd_and_stays_finite(device, scale):
    logits = (torch.randn(8, 10, dtype=torch.float64, device=device) * scale).requires_grad_(True)
    target = torch.randint(0, 10, (8,), device=device)
    reference = F.cross_entropy(logits, target)
    reference.backward()
    loss_fn = CrossEntropyLoss()
    loss = loss_fn.forward(logits.detach(), target)
    assert loss.ndim == 0 and torch.isfinite(loss)
    torch.testing.assert_close(loss, reference.detach())
    torch.testing.assert_close(loss_fn.backward(), logits.grad)


def test_cross_entropy_extreme_logits_are_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]])
    loss_fn = CrossEntropyLoss()
    loss = loss_fn.forward(logits, torch.tensor([1, 2]))
    assert torch.isfinite(loss) and abs(loss.item() - 1e4) < 1  # (2e4 + 0) / 2
    assert torch.isfinite(loss_fn.backward()).all()
    with pytest.raises(ValueError, match=r"need logits \(N, C\) and target \(N,\)"):
        loss_fn.forward(logits, torch.tensor([1]))


def to_torch(model: Sequential) -> torch.nn.Sequential:
    layers = []
    for m in model.modules:
        if isinstance(m, Linear):
            lin = torch.nn.Linear(m.weight.shape[1], m.weight.shape[0]).to(m.weight.dtype).to(m.weight.device)
            with torch.no_grad():
                lin.weight.copy_(m.weight)
                lin.bias.copy_(m.bias)
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 5e-4)])
def test_training_steps_equal_torch_nn_with_autograd(device, momentum, weight_decay):
    g = torch.Generator(device=device).manual_seed(1)
    ours = mlp([12, 16, 8, 5], generator=g, device=device, dtype=torch.float64)
    theirs = to_torch(ours)
    opt_ours = SGD(ours, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    loss_fn = CrossEntropyLoss()
    for step in range(3):
        x = torch.randn(32, 12, dtype=torch.float64, device=device, generator=g)
        y = torch.randint(0, 5, (32,), device=device, generator=g)
        loss = loss_fn.forward(ours.forward(x), y)
        ours.backward(loss_fn.backward())
        opt_ours.step()
        opt_theirs.zero_grad()
        reference = F.cross_entropy(theirs(x), y)
        reference.backward()
        opt_theirs.step()
        torch.testing.assert_close(loss, reference.detach())
    for p, q in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q.detach())


def test_sequential_backward_returns_input_gradient_when_asked():
    g = torch.Generator().manual_seed(0)
    model = Sequential(Linear(4, 3, g, dtype=torch.float64), ReLU(), Linear(3, 2, g, dtype=torch.float64))
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    theirs = to_torch(model)
    theirs(x).sum().backward()
    model.forward(x.detach())
    torch.testing.assert_close(model.backward(torch.ones(5, 2, dtype=torch.float64)), x.grad)
    assert mlp([4, 3, 2]).backward is not None and mlp([4, 3, 2]).modules[0].input_grad is False


def test_sgd_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="lr > 0"):
        SGD(mlp([2, 2]), lr=0.0)
    with pytest.raises(ValueError, match="momentum < 1"):
        SGD(mlp([2, 2]), lr=0.1, momentum=1.0)
