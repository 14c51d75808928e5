"""Answers written the way a student writes them, independent of hwlib's
references (the check tests must pass where hwlib's answer modules are
unimportable). Right answers first, then the classic mistakes."""

import numpy as np
import torch
import torch.nn.functional as F

# ------------------------------------------------------------- layers


class Linear:
    def __init__(self, n_in, n_out):
        self.weight = torch.zeros(n_out, n_in, dtype=torch.float64)
        self.bias = torch.zeros(n_out, dtype=torch.float64)

    def forward(self, x):
        self.x = x
        return x @ self.weight.T + self.bias

    def backward(self, g):
        self.grad_weight = g.T @ self.x
        self.grad_bias = g.sum(0)
        return g @ self.weight


class ReLU:
    def forward(self, x):
        self.x = x
        return x.clamp(min=0)

    def backward(self, g):
        return g * (self.x > 0)


class CrossEntropyLoss:
    def forward(self, z, y):
        z = z - z.max(1, keepdim=True).values
        log_p = z - z.exp().sum(1, keepdim=True).log()
        self.p, self.y = log_p.exp(), y
        return -log_p[torch.arange(len(y)), y].mean()

    def backward(self):
        g = self.p.clone()
        g[torch.arange(len(self.y)), self.y] -= 1
        return g / len(self.y)


class NumpyLinear:
    def __init__(self, n_in, n_out):
        self.weight, self.bias = np.zeros((n_out, n_in)), np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x.dot(self.weight.T) + self.bias

    def backward(self, g):
        self.grad_weight = g.T.dot(self.x)
        self.grad_bias = np.sum(g, axis=0)
        return g.dot(self.weight)


class NumpyReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return g * (self.x > 0)


class NumpyCrossEntropy:
    def forward(self, z, y):
        z = z - np.max(z, axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.p, self.y = np.exp(log_p), y
        return -log_p[np.arange(len(y)), y].mean()

    def backward(self):
        g = self.p.copy()
        g[np.arange(len(self.y)), self.y] -= 1
        return g / len(self.y)


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = dout.dot(w.T).reshape(x.shape)
    return dx, x.reshape(x.shape[0], -1).T.dot(dout), dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(
        np.sum(np.exp(shifted), axis=1, keepdims=True)
    )
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def grad_W(W, x):
    """dL/dW for y = W x, u = ReLU(y), v = u + W u, L = ||v||^2 / 2."""
    y = W @ x
    u = torch.relu(y)
    v = u + W @ u
    back = (y > 0).double() * (v + W.T @ v)
    return torch.outer(v, u) + torch.outer(back, x)


def count_regions(layers):
    """2^L per coordinate for fold layers; brute force on a fine grid of
    each coordinate otherwise (a student's counter for diagonal W)."""
    from fractions import Fraction

    d = torch.as_tensor(layers[0][1]).numel()
    total = 1
    for i in range(d):
        pieces = [(Fraction(0), Fraction(1), Fraction(1), Fraction(0))]
        for w, b in layers:
            wi = Fraction(float(torch.as_tensor(w).reshape(d, d)[i, i]))
            bi = Fraction(float(torch.as_tensor(b).reshape(d)[i]))
            new = []
            for lo, hi, s, c in pieces:
                s, c = wi * s, wi * c + bi
                cuts = [lo, hi]
                if s != 0 and lo < -c / s < hi:
                    cuts = [lo, -c / s, hi]
                for a, z in zip(cuts, cuts[1:]):
                    sign = 1 if s * (a + z) / 2 + c >= 0 else -1
                    new.append((a, z, sign * s, sign * c))
            pieces = new
        total *= sum(
            1
            for a, z, s, c in pieces
            if s != 0
            and min(s * a + c, s * z + c) <= 0
            and max(s * a + c, s * z + c) >= 1
        )
    return total


# ------------------------------------------------------ input gradients


def saliency_map(model, x, target):
    x = x.clone().requires_grad_(True)
    scores = model(x)
    target = torch.as_tensor(target).expand(len(x))
    scores.gather(1, target[:, None]).sum().backward()
    return x.grad.abs().amax(dim=1)


def guided_backprop(model, x, target):
    hooks = [
        m.register_full_backward_hook(lambda m, gi, go: (gi[0].clamp(min=0),))
        for m in model.modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    try:
        x = x.clone().requires_grad_(True)
        target = torch.as_tensor(target).expand(len(x))
        model(x).gather(1, target[:, None]).sum().backward()
        return x.grad
    finally:
        for h in hooks:
            h.remove()


def grad_cam(model, layer, x, target):
    saved = {}
    handle = layer.register_forward_hook(
        lambda m, i, o: saved.setdefault("a", o)
    )
    try:
        scores = model(x)
    finally:
        handle.remove()
    a = saved["a"]
    target = torch.as_tensor(target).expand(len(x))
    (g,) = torch.autograd.grad(scores.gather(1, target[:, None]).sum(), a)
    return F.relu((g.mean((2, 3), keepdim=True) * a).sum(1)).detach()


def guided_grad_cam(model, layer, x, target):
    cam = grad_cam(model, layer, x, target)
    cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear")
    return guided_backprop(model, x, target) * cam


def fooling_image(model, x, target, lr=0.05, steps=200):
    x = x.clone()
    target = torch.as_tensor(target).expand(len(x))
    for _ in range(steps):
        x.requires_grad_(True)
        scores = model(x)
        if (scores.argmax(1) == target).all():
            break
        (g,) = torch.autograd.grad(scores.gather(1, target[:, None]).sum(), x)
        norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        x = (x + lr * g / norm.clamp(min=1e-12)).clamp(0, 1).detach()
    return x.detach()


def class_visualization_step(model, image, target, *, lr, l2_reg):
    image = image.clone().requires_grad_(True)
    target = torch.as_tensor(target).expand(len(image))
    score = model(image).gather(1, target[:, None]).sum()
    penalty = l2_reg * (image**2).sum()
    (g,) = torch.autograd.grad(score - penalty, image)
    norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return (image + lr * g / norm).detach()


# ------------------------------------------- code that works in float32 only


def saliency_map_float32(model, x, target):
    """Written for a float32 model: casts the images, not the model."""
    return saliency_map(model, x.float(), target)


def grad_cam_float32(model, layer, x, target):
    """Casts the model it is given (in place) and the images to float32."""
    model.float()
    return grad_cam(model, layer, x.float(), target)


def fooling_image_float32(model, x, target):
    return fooling_image(model, x.float(), target)


def class_visualization_step_float32(model, image, target, *, lr, l2_reg):
    return class_visualization_step(
        model, image.float(), target, lr=lr, l2_reg=l2_reg
    )


def softmax_loss_float32(x, y):
    """numpy code that computes in float32 whatever it is given."""
    loss, dx = softmax_loss(x.astype(np.float32), y)
    return np.float32(loss), dx.astype(np.float32)
