"""Neural network modules with hand-written backward passes (seed 000 Q10). No autograd.

Every module caches what its backward pass needs during `forward` and returns the gradient with
respect to its input from `backward(grad_output)`. Shapes: a batch of N row vectors, x (N, in).

    Linear          y = x W^T + b            dL/dx = g W,  dL/dW = g^T x,  dL/db = sum_n g_n
    ReLU            y = max(x, 0)             dL/dx = g * [x > 0]
    CrossEntropy    L = mean_n -log softmax(z_n)[t_n]
                                              dL/dz = (softmax(z) - onehot(t)) / N

where g = dL/dy is the gradient arriving from above. The "at most 5 lines" of the homework hold
for every forward and backward below.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


class Module:
    """Base class: parameters and their gradients, in matching order."""

    def parameters(self) -> list[Tensor]:
        return []

    def gradients(self) -> list[Tensor]:
        return []

    def __call__(self, *args):
        return self.forward(*args)


class Linear(Module):
    """y = x W^T + b with weight (out, in) and bias (out,), initialised like torch.nn.Linear.

    U(-1/sqrt(in), 1/sqrt(in)) for both, drawn from `generator`. With input_grad=False the backward
    pass skips dL/dx and returns None (for a first layer, whose input is data).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        input_grad: bool = True,
    ) -> None:
        bound = 1 / math.sqrt(in_features)
        gen_device = generator.device if generator is not None else device
        draw = lambda *shape: (torch.rand(*shape, generator=generator, device=gen_device, dtype=dtype) * 2 - 1) * bound  # noqa: E731
        self.weight = draw(out_features, in_features).to(device)
        self.bias = draw(out_features).to(device)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.input_grad = input_grad

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.weight.shape[1]:
            raise ValueError(f"Linear expects input (N, {self.weight.shape[1]}), got {tuple(x.shape)}: "
                             f"input width {x.shape[-1]} vs in_features {self.weight.shape[1]}")
        self.input = x
        return torch.addmm(self.bias, x, self.weight.T)

    def backward(self, grad_output: Tensor) -> Tensor | None:
        self.grad_weight = grad_output.T @ self.input
        self.grad_bias = grad_output.sum(0)
        return grad_output @ self.weight if self.input_grad else None

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def gradients(self) -> list[Tensor]:
        return [self.grad_weight, self.grad_bias]

    def __repr__(self) -> str:
        return f"Linear({self.weight.shape[1]}, {self.weight.shape[0]})"


class ReLU(Module):
    """y = max(x, 0); the gradient passes where x > 0 (0 at x = 0, as in PyTorch)."""

    def forward(self, x: Tensor) -> Tensor:
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output * self.mask

    def __repr__(self) -> str:
        return "ReLU()"


class CrossEntropyLoss(Module):
    """Mean softmax cross-entropy of logits (N, C) against integer targets (N,).

    Stable for large logits: log softmax(z) = z - logsumexp(z), with the maximum subtracted first.
    """

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.ndim != 2 or target.shape != (logits.shape[0],):
            raise ValueError(f"need logits (N, C) and target (N,), got {tuple(logits.shape)} and {tuple(target.shape)}")
        log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        self.probs, self.target = log_probs.exp(), target
        return -log_probs.gather(1, target[:, None]).mean()

    def backward(self) -> Tensor:
        grad = self.probs.clone()
        grad[torch.arange(len(self.target), device=grad.device), self.target] -= 1
        return grad / len(self.target)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse."""

    def __init__(self, *modules: Module) -> None:
        self.modules = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for module in self.modules:
            x = module.forward(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor | None:
        for module in reversed(self.modules):
            grad_output = module.backward(grad_output)
        return grad_output

    def parameters(self) -> list[Tensor]:
        return [p for m in self.modules for p in m.parameters()]

    def gradients(self) -> list[Tensor]:
        return [g for m in self.modules for g in m.gradients()]

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.modules)) + ")"


def mlp(
    sizes: list[int],
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Sequential:
    """Linear-ReLU-...-Linear with the given layer sizes, e.g. [3072, 512, 512, 10].

    The first layer skips its input gradient: the network's input is data, not a parameter.
    """
    if len(sizes) < 2:
        raise ValueError(f"need at least [in, out] sizes, got {sizes}")
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, generator, device, dtype, input_grad=i > 0))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


class SGD:
    """Stochastic gradient descent with momentum and weight decay, as torch.optim.SGD computes it.

        d = grad + weight_decay * p;   buf = momentum * buf + d (buf = d at the first step);   p -= lr * buf
    """

    def __init__(self, model: Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"need lr > 0, 0 <= momentum < 1, weight_decay >= 0; got {lr}, {momentum}, {weight_decay}")
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.buffers: list[Tensor | None] = [None] * len(model.parameters())

    def step(self) -> None:
        for i, (p, g) in enumerate(zip(self.model.parameters(), self.model.gradients())):
            d = g.add(p, alpha=self.weight_decay) if self.weight_decay else g
            if self.momentum:
                self.buffers[i] = d.clone() if self.buffers[i] is None else self.buffers[i].mul_(self.momentum).add_(d)
                d = self.buffers[i]
            p.sub_(d, alpha=self.lr)
