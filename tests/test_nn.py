import pytest
import torch
import torch.nn.functional as F
from conftest import needs_cuda

from hwlib.nn import SGD, CrossEntropyLoss, Linear, ReLU, Sequential, mlp


def test_linear_forward_backward_match_autograd(device):
    g = torch.Generator(device=device).manual_seed(0)
    layer = Linear(5, 3, generator=g, device=device, dtype=torch.float64)
    x = torch.randn(
        4, 5, dtype=torch.float64, device=device, requires_grad=True
    )
    w, b = (
        layer.weight.clone().requires_grad_(True),
        layer.bias.clone().requires_grad_(True),
    )
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
    assert (
        layer.weight.abs().max() <= bound
        and layer.weight.abs().max() > 0.95 * bound
    )
    assert abs(layer.weight.std().item() - bound / 3**0.5) < 0.01 * bound


def test_relu_backward_matches_autograd(device):
    x = torch.randn(
        6, 4, dtype=torch.float64, device=device, requires_grad=True
    )
    upstream = torch.randn(6, 4, dtype=torch.float64, device=device)
    torch.relu(x).backward(upstream)
    relu = ReLU()
    torch.testing.assert_close(
        relu.forward(x.detach()), torch.relu(x.detach())
    )
    torch.testing.assert_close(relu.backward(upstream), x.grad)


def test_relu_at_exact_zeros_matches_autograd(device):
    """ReLU'(0) = 0 in PyTorch, for +0 and -0 alike: the gradient passes
    only where x > 0."""
    x = torch.tensor(
        [[0.0, -0.0, 1.0, -1.0], [-0.0, 2.5, 0.0, -3.0]],
        dtype=torch.float64,
        device=device,
        requires_grad=True,
    )
    upstream = torch.tensor(
        [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]],
        dtype=torch.float64,
        device=device,
    )
    torch.relu(x).backward(upstream)
    relu = ReLU()
    torch.testing.assert_close(
        relu.forward(x.detach()), torch.relu(x.detach()), rtol=0, atol=0
    )
    grad = relu.backward(upstream)
    torch.testing.assert_close(grad, x.grad, rtol=0, atol=0)
    assert grad.tolist() == [[0.0, 0.0, 3.0, 0.0], [0.0, 6.0, 0.0, 0.0]]


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_cross_entropy_matches_autograd_and_stays_finite(device, scale):
    logits = (
        torch.randn(8, 10, dtype=torch.float64, device=device) * scale
    ).requires_grad_(True)
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


def to_torch(model: Sequential) -> torch.nn.Sequential:
    layers = []
    for m in model.modules:
        if isinstance(m, Linear):
            lin = (
                torch.nn.Linear(m.weight.shape[1], m.weight.shape[0])
                .to(m.weight.dtype)
                .to(m.weight.device)
            )
            with torch.no_grad():
                lin.weight.copy_(m.weight)
                lin.bias.copy_(m.bias)
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize(
    "momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 5e-4)]
)
def test_training_steps_equal_torch_nn_with_autograd(
    device, momentum, weight_decay
):
    g = torch.Generator(device=device).manual_seed(1)
    ours = mlp([12, 16, 8, 5], generator=g, device=device, dtype=torch.float64)
    theirs = to_torch(ours)
    opt_ours = SGD(ours, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    opt_theirs = torch.optim.SGD(
        theirs.parameters(),
        lr=0.1,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    loss_fn = CrossEntropyLoss()
    for _ in range(3):
        x = torch.randn(
            32, 12, dtype=torch.float64, device=device, generator=g
        )
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
    model = Sequential(
        Linear(4, 3, generator=g, dtype=torch.float64),
        ReLU(),
        Linear(3, 2, generator=g, dtype=torch.float64),
    )
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    theirs = to_torch(model)
    theirs(x).sum().backward()
    model.forward(x.detach())
    torch.testing.assert_close(
        model.backward(torch.ones(5, 2, dtype=torch.float64)), x.grad
    )


def test_mlp_first_layer_skips_the_input_gradient():
    model = mlp([4, 3, 2], dtype=torch.float64)
    assert [type(m).__name__ for m in model.modules] == [
        "Linear",
        "ReLU",
        "Linear",
    ]
    model.forward(torch.randn(5, 4, dtype=torch.float64))
    assert model.backward(torch.ones(5, 2, dtype=torch.float64)) is None
    assert model.modules[0].grad_weight.shape == (3, 4)  # still computed


def fresh(module, x):
    """module after a forward pass on x (for backward tests)."""
    module.forward(x)
    return module


X4 = torch.ones(2, 4)
NAN, INF = float("nan"), float("inf")
LOSS, LOGITS = CrossEntropyLoss(), torch.zeros(2, 3)
# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("loss NaN logits", lambda: LOSS.forward(torch.tensor([[0.0, NAN, 1.0], [0.0, 0.0, 0.0]]), torch.tensor([0, 1])),
        ValueError, "logits must be finite, got 1 NaN/inf entries (shape (2, 3))"),
    ("loss inf logits", lambda: LOSS.forward(torch.tensor([[0.0, INF, 1.0], [-INF, 0.0, 0.0]]), torch.tensor([0, 1])),
        ValueError, "logits must be finite, got 2 NaN/inf entries"),
    ("Linear(0, 3)", lambda: Linear(0, 3),
        ValueError, "in_features must be an int >= 1, got 0"),
    ("Linear(4, -1)", lambda: Linear(4, -1),
        ValueError, "out_features must be an int >= 1, got -1"),
    ("Linear(4.0, 3)", lambda: Linear(4.0, 3),
        TypeError, "in_features must be an int >= 1, got 4.0 (float)"),
    ("Linear(True, 3)", lambda: Linear(True, 3),
        TypeError, "in_features must be an int >= 1, got True (bool)"),
    ("huge layer", lambda: Linear(10**9, 3),
        ValueError, "Linear(1000000000, 3).weight would have 3000000000 entries, more than hwlib's limit MAX_ELEMENTS"),
    ("integer dtype", lambda: Linear(4, 3, dtype=torch.int64),
        TypeError, "dtype must be a floating torch.dtype"),
    ("generator positional", lambda: Linear(4, 3, torch.Generator()),
        TypeError, "positional argument"),
    ("generator not a Generator", lambda: Linear(4, 3, generator=1),
        TypeError, "generator must be a torch.Generator or None, got int"),
    ("unknown device", lambda: Linear(4, 3, device="gpu0"),
        ValueError, "device must be a torch.device or a name"),
    ("input_grad not a bool", lambda: Linear(4, 3, input_grad=1),
        TypeError, "input_grad must be True or False, got 1"),
    ("missing batch dimension", lambda: Linear(4, 3).forward(torch.ones(4)),
        ValueError, "x has shape (4,): the batch dimension is missing, expected (N, 4)"),
    ("wrong input width", lambda: Linear(5, 3).forward(torch.zeros(2, 7)),
        ValueError, "x must have shape (N, 5), got (2, 7): width 7 vs expected 5"),
    ("input dtype", lambda: Linear(4, 3).forward(X4.double()),
        TypeError, "x (torch.float64 on cpu) must match the parameters (torch.float32 on cpu)"),
    ("input a list", lambda: Linear(4, 3).forward([[1.0] * 4]),
        TypeError, "x must be a torch.Tensor of shape (N, 4), got list"),
    ("Linear backward first", lambda: Linear(4, 3).backward(torch.ones(2, 3)),
        RuntimeError, "Linear.backward: call forward first"),
    ("Linear gradient shape", lambda: fresh(Linear(4, 3), X4).backward(torch.ones(2, 4)),
        ValueError, "Linear.backward: grad_output must have the shape of the last forward output (2, 3), got (2, 4)"),
    ("ReLU backward first", lambda: ReLU().backward(torch.ones(2, 3)),
        RuntimeError, "ReLU.backward: call forward first"),
    ("ReLU broadcast gradient", lambda: fresh(ReLU(), X4).backward(torch.ones(4)),
        ValueError, "ReLU.backward: grad_output must have the shape of the last forward output (2, 4), got (4,)"),
    ("ReLU integer input", lambda: ReLU().forward(torch.ones(2, 2).long()),
        TypeError, "x must be a floating tensor"),
    ("loss backward first", lambda: CrossEntropyLoss().backward(),
        RuntimeError, "CrossEntropyLoss.backward: call forward first"),
    ("loss target length", lambda: LOSS.forward(LOGITS, torch.tensor([1])),
        ValueError, "need logits (N, C) and target (N,), got logits (2, 3) and target (1,)"),
    ("loss class 3 of 3", lambda: LOSS.forward(LOGITS, torch.tensor([0, 3])),
        ValueError, "target must be class indices in [0, 3), got values from 0 to 3"),
    ("loss class -1", lambda: LOSS.forward(LOGITS, torch.tensor([-1, 0])),
        ValueError, "got values from -1 to 0"),
    ("loss float target", lambda: LOSS.forward(LOGITS, torch.tensor([0.0, 1.0])),
        TypeError, "target must be int64 class indices (torch.long), got torch.float32"),
    ("loss empty batch", lambda: LOSS.forward(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)),
        ValueError, "logits must be nonempty, got (0, 3)"),
    ("loss integer logits", lambda: LOSS.forward(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1])),
        TypeError, "logits must be floating, got torch.int64"),
    ("Sequential of torch modules", lambda: Sequential(torch.nn.ReLU()),
        TypeError, "modules[0] must be an hwlib.nn Module, got ReLU"),
    ("mlp of one size", lambda: mlp([3]),
        ValueError, "sizes must hold at least 2 ints, got [3]"),
    ("mlp of a zero width", lambda: mlp([3, 0, 2]),
        ValueError, "sizes[1] must be an int >= 1, got 0"),
    ("mlp of an int", lambda: mlp(3),
        TypeError, "sizes must be a tuple or list of ints, got 3 (int)"),
    ("SGD lr 0", lambda: SGD(mlp([2, 2]), lr=0.0),
        ValueError, "lr must be a finite number in (0, inf), got 0.0"),
    ("SGD lr negative", lambda: SGD(mlp([2, 2]), lr=-0.1),
        ValueError, "lr must be a finite number in (0, inf), got -0.1"),
    ("SGD lr NaN", lambda: SGD(mlp([2, 2]), lr=NAN),
        ValueError, "lr must be a finite number in (0, inf), got nan"),
    ("SGD lr inf", lambda: SGD(mlp([2, 2]), lr=INF),
        ValueError, "lr must be a finite number in (0, inf), got inf"),
    ("SGD lr True", lambda: SGD(mlp([2, 2]), lr=True),
        TypeError, "lr must be a real number, got True (bool)"),
    ("SGD lr str", lambda: SGD(mlp([2, 2]), lr="0.1"),
        TypeError, "lr must be a real number, got '0.1' (str)"),
    ("SGD momentum 1", lambda: SGD(mlp([2, 2]), lr=0.1, momentum=1.0),
        ValueError, "momentum must be a finite number in [0, 1), got 1.0"),
    ("SGD momentum negative", lambda: SGD(mlp([2, 2]), 0.1, -0.5),
        ValueError, "momentum must be a finite number in [0, 1), got -0.5"),
    ("SGD weight decay NaN", lambda: SGD(mlp([2, 2]), 0.1, 0.9, NAN),
        ValueError, "weight_decay must be a finite number in [0, inf), got nan"),
    ("SGD of a torch model", lambda: SGD(torch.nn.Linear(2, 2), lr=0.1),
        TypeError, "model must be an hwlib.nn Module, got Linear"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


def test_generator_must_live_on_the_parameters_device():
    with pytest.raises(
        ValueError, match="generator is on cpu but draws tensors on meta"
    ):
        Linear(4, 3, generator=torch.Generator(), device="meta")


@needs_cuda
def test_a_cpu_generator_cannot_draw_cuda_parameters():
    with pytest.raises(
        ValueError, match="generator is on cpu but draws tensors on cuda"
    ):
        Linear(4, 3, generator=torch.Generator(), device="cuda")
