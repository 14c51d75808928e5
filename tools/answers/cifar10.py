"""CIFAR-10 from scratch (MIT Q9-Q15): the student's code cells.

Everything runs on a CPU: the runs of Q12 and Q15 default to a few epochs
(EPOCHS below; the homework asks for 30, about 10 s an epoch here).
"""

# %% setup
import math
import os

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision.transforms import RandomCrop

from hwlib.check import check_cross_entropy, check_linear, check_relu
from hwlib.data import load_cifar10

data = load_cifar10()  # root: $HWLIB_CIFAR10, else data/
print(f"train {tuple(data.train_x.shape)}, test {tuple(data.test_x.shape)}")
EPOCHS = int(os.environ.get("HWLIB_EPOCHS", 3))  # the homework: 30

fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
for label, name in enumerate(data.classes):
    picks = (data.train_y == label).nonzero()[:2, 0]
    for row, i in enumerate(picks):
        axes[row, label].imshow(data.train_x[i].permute(1, 2, 0))
        axes[row, label].axis("off")
    axes[0, label].set_title(name, fontsize=8)
plt.show()


# %% cifar-q10
class Linear:
    """A fully connected layer, y = x W^T + b.

    Attributes:
    - weight: tensor of shape (out_features, in_features)
    - bias: tensor of shape (out_features,)
    - grad_weight, grad_bias: the gradients of the loss with respect to
      them, set by backward (same shapes)
    """

    def __init__(self, in_features, out_features):
        bound = 1 / math.sqrt(in_features)  # torch's initialisation
        self.weight = (torch.rand(out_features, in_features) * 2 - 1) * bound
        self.bias = (torch.rand(out_features) * 2 - 1) * bound
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)

    def forward(self, x):
        """Inputs:
        - x: tensor of shape (N, in_features), a batch of inputs

        Returns:
        - y: tensor of shape (N, out_features)

        Keep what backward will need.
        """
        ### BEGIN SOLUTION
        self.input = x
        return x @ self.weight.T + self.bias
        ### END SOLUTION

    def backward(self, grad_output):
        """Inputs:
        - grad_output: tensor of shape (N, out_features), dL/dy

        Returns:
        - grad_input: tensor of shape (N, in_features), dL/dx

        Also sets self.grad_weight and self.grad_bias.
        """
        ### BEGIN SOLUTION
        self.grad_weight = grad_output.T @ self.input
        self.grad_bias = grad_output.sum(0)
        return grad_output @ self.weight
        ### END SOLUTION

    def parameters(self):
        return [self.weight, self.bias]

    def gradients(self):
        return [self.grad_weight, self.grad_bias]


class ReLU:
    """The rectifier, applied entry by entry."""

    def forward(self, x):
        """Inputs:
        - x: tensor of any shape

        Returns:
        - y: tensor of the same shape
        """
        ### BEGIN SOLUTION
        self.mask = x > 0
        return x * self.mask
        ### END SOLUTION

    def backward(self, grad_output):
        """Inputs:
        - grad_output: tensor of the shape of x, dL/dy

        Returns:
        - grad_input: tensor of the same shape, dL/dx (0 where x = 0, as
          torch does)
        """
        ### BEGIN SOLUTION
        return grad_output * self.mask
        ### END SOLUTION

    def parameters(self):
        return []

    def gradients(self):
        return []


class CrossEntropyLoss:
    """The mean softmax cross-entropy of a batch."""

    def forward(self, logits, target):
        """Inputs:
        - logits: tensor of shape (N, C), unnormalised class scores
        - target: int64 tensor of shape (N,), class indices in [0, C)

        Returns:
        - loss: a tensor holding one number, the mean over the batch

        Stay finite for large logits.
        """
        ### BEGIN SOLUTION
        log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        self.probs, self.target = log_probs.exp(), target
        return -log_probs.gather(1, target[:, None]).mean()
        ### END SOLUTION

    def backward(self):
        """Returns:
        - grad_logits: tensor of shape (N, C), dL/dlogits for the last
          forward call
        """
        ### BEGIN SOLUTION
        grad = self.probs.clone()
        grad[torch.arange(len(self.target)), self.target] -= 1
        return grad / len(self.target)
        ### END SOLUTION


# %% cifar-q10 check
report = check_linear(Linear)
print(report)

# %% cifar-q10 check
report = check_relu(ReLU)
print(report)

# %% cifar-q10 check
report = check_cross_entropy(CrossEntropyLoss)
print(report)


# %% cifar-q10 mistake
class Linear(Linear):  # dL/db averaged over the batch instead of summed
    def backward(self, grad_output):
        self.grad_weight = grad_output.T @ self.input
        self.grad_bias = grad_output.mean(0)
        return grad_output @ self.weight


# %% cifar-q10
class Sequential:
    """Modules applied in order; backward runs them in reverse (given)."""

    def __init__(self, *modules):
        self.modules = list(modules)

    def forward(self, x):
        for module in self.modules:
            x = module.forward(x)
        return x

    def backward(self, grad_output):
        for module in reversed(self.modules):
            grad_output = module.backward(grad_output)
        return grad_output

    def parameters(self):
        return [p for m in self.modules for p in m.parameters()]

    def gradients(self):
        return [g for m in self.modules for g in m.gradients()]


class SGD:
    """Stochastic gradient descent with momentum, as torch.optim.SGD
    (given)."""

    def __init__(self, model, lr, momentum=0.0):
        self.model, self.lr, self.momentum = model, lr, momentum
        self.buffers = [torch.zeros_like(p) for p in model.parameters()]

    def step(self):
        model = self.model
        for p, g, buf in zip(
            model.parameters(), model.gradients(), self.buffers
        ):
            buf.mul_(self.momentum).add_(g)
            p.sub_(self.lr * buf)


def mlp(sizes=(3072, 512, 512, 10), seed=0):
    """Linear-ReLU-...-Linear with your modules."""
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [Linear(n_in, n_out), ReLU()]
    return Sequential(*layers[:-1])  # no ReLU after the last layer


MEAN = data.train_x.float().mean(dim=(0, 2, 3)) / 255
STD = data.train_x.float().std(dim=(0, 2, 3)) / 255


def prepare(images):
    """uint8 images (N, 3, 32, 32) -> standardised rows (N, 3072)."""
    x = (images.float() / 255 - MEAN[:, None, None]) / STD[:, None, None]
    return x.flatten(1)


# %% cifar-q11
def train_epoch(model, loss_fn, optimizer, loader):
    """One pass of SGD over the training data.

    Inputs:
    - model: your Sequential, forward(x (N, 3072)) -> logits (N, 10)
    - loss_fn: your CrossEntropyLoss
    - optimizer: an SGD over the model
    - loader: yields (images uint8 (B, 3, 32, 32), labels int64 (B,))

    Returns:
    - loss: the mean training loss over the epoch (a float)
    - accuracy: the fraction of training images classified right
    """
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        ### BEGIN SOLUTION
        logits = model.forward(prepare(images))
        loss = loss_fn.forward(logits, labels)
        model.backward(loss_fn.backward())
        optimizer.step()
        correct += int((logits.argmax(1) == labels).sum())
        ### END SOLUTION
        total_loss += float(loss) * len(labels)
        seen += len(labels)
    return total_loss / seen, correct / seen


def evaluate(model, loss_fn, loader):
    """Loss and accuracy on a dataset; changes no parameter.

    Inputs: as train_epoch, without the optimizer.

    Returns:
    - loss: the mean loss (a float)
    - accuracy: the fraction classified right
    """
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        ### BEGIN SOLUTION
        logits = model.forward(prepare(images))
        loss = loss_fn.forward(logits, labels)
        correct += int((logits.argmax(1) == labels).sum())
        ### END SOLUTION
        total_loss += float(loss) * len(labels)
        seen += len(labels)
    return total_loss / seen, correct / seen


# %% cifar-q12
def run(train_set, test_set, epochs=EPOCHS, lr=0.01, momentum=0.9):
    """Train an MLP 3072-512-512-10 with your modules; the curves."""
    model = mlp()
    optimizer = SGD(model, lr=lr, momentum=momentum)
    loss_fn = CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    train = DataLoader(train_set, batch_size=128, shuffle=True, generator=g)
    test = DataLoader(test_set, batch_size=1000)
    curves = {"train": [], "test": []}
    for epoch in range(epochs):
        curves["train"].append(train_epoch(model, loss_fn, optimizer, train))
        curves["test"].append(evaluate(model, loss_fn, test))
        (_, train_acc), (_, test_acc) = curves["train"][-1], curves["test"][-1]
        print(
            f"epoch {epoch + 1}: accuracy {train_acc:.1%} (training), "
            f"{test_acc:.1%} (test)"
        )
    return curves


def plot_curves(curves, title):
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    for name, points in curves.items():
        epochs = range(1, len(points) + 1)
        left.plot(epochs, [p[0] for p in points], "o-", label=name)
        right.plot(epochs, [p[1] for p in points], "o-", label=name)
    left.set(xlabel="epoch", ylabel="loss", title=title)
    right.set(xlabel="epoch", ylabel="accuracy")
    left.legend()
    plt.show()


train_plain = TensorDataset(data.train_x, data.train_y)
test_set = TensorDataset(data.test_x, data.test_y)
try:
    plot_curves(run(train_plain, test_set), "without augmentation")
except NotImplementedError:
    print("complete Linear, ReLU, CrossEntropyLoss and the loop above first")


# %% cifar-q14
def datasets():
    """The training set, with a random crop each time an image is read
    (pad 4 pixels of zeros on each side, then cut a random 32 x 32 window),
    and the validation set (the test images, as they are).

    Returns:
    - train_set: a torch Dataset of (image uint8 (3, 32, 32), label)
    - val_set: a torch Dataset of the same kind
    """
    ### BEGIN SOLUTION
    crop = RandomCrop(32, padding=4)

    class Cropped(Dataset):
        def __len__(self):
            return len(data.train_y)

        def __getitem__(self, i):
            return crop(data.train_x[i]), data.train_y[i]

    return Cropped(), TensorDataset(data.test_x, data.test_y)
    ### END SOLUTION


# %% cifar-q14
try:
    train_set, val_set = datasets()
    fig, axes = plt.subplots(4, 5, figsize=(5.5, 4.6))
    for row in range(4):
        for col in range(5):
            image = (
                train_set[row * 9000][0] if col else data.train_x[row * 9000]
            )
            axes[row, col].imshow(image.permute(1, 2, 0))
            axes[row, col].axis("off")
    plt.show()
except NotImplementedError:
    print("write datasets above first")

# %% cifar-q15
try:
    train_set, val_set = datasets()
    plot_curves(run(train_set, val_set), "with random crops")
except NotImplementedError:
    print("complete datasets, the modules and the loop above first")
