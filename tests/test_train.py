import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hwlib.nn import CrossEntropyLoss, mlp  # noqa: E402
from hwlib.train import DeviceData, evaluate, fit, normalize, plot_curves  # noqa: E402


def toy_data(device, n=600, seed=0):
    """Images whose label is which of 10 horizontal bands is bright: learnable in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randint(0, 60, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    for i, label in enumerate(y.tolist()):
        x[i, :, 3 * label : 3 * label + 3, :] = 250
    split = n * 5 // 6
    return DeviceData(x[:split].to(device), y[:split].to(device), x[split:].to(device), y[split:].to(device))


def test_fit_learns_and_records_history(device):
    data = toy_data(device)
    model, history = fit(data, sizes=(3072, 32, 10), epochs=4, lr=0.05, batch_size=50, progress=False)
    assert len(history.train_loss) == len(history.test_acc) == len(history.seconds) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.test_acc[-1] > 0.5  # chance is 0.1
    assert history.settings["device"] == str(device)


def test_fit_is_deterministic_on_the_cpu():
    data = toy_data("cpu")
    kwargs = dict(sizes=(3072, 16, 10), epochs=2, batch_size=64, augment=True, seed=7, progress=False)
    _, a = fit(data, **kwargs)
    _, b = fit(data, **kwargs)
    assert (a.train_loss, a.train_acc, a.test_loss, a.test_acc) == (b.train_loss, b.train_acc, b.test_loss, b.test_acc)
    _, c = fit(data, **{**kwargs, "seed": 8})
    assert c.train_loss != a.train_loss


def test_normalize_standardises_per_channel():
    x = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    out = normalize(x)
    assert out.shape == (2, 3072) and out.dtype == torch.float32
    torch.testing.assert_close(out[0, 0], torch.tensor((1 - 0.4914) / 0.2470))


def test_evaluate_leaves_parameters_unchanged():
    data = toy_data("cpu")
    model = mlp([3072, 8, 10], generator=torch.Generator().manual_seed(0))
    before = [p.clone() for p in model.parameters()]
    loss, acc = evaluate(model, CrossEntropyLoss(), data.test_x, data.test_y)
    assert 0 <= acc <= 1 and loss > 0
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))


def test_plot_curves_draws_train_and_test_per_run():
    data = toy_data("cpu", n=120)
    _, h = fit(data, sizes=(3072, 8, 10), epochs=2, batch_size=50, progress=False)
    axes = plot_curves({"a": h, "b": h})
    assert len(axes[0].lines) == len(axes[1].lines) == 4
    plt.close("all")


@pytest.mark.slow
def test_one_real_epoch_beats_chance_by_far(cifar_root):
    from hwlib.data import load_cifar10

    data = DeviceData.from_cifar(load_cifar10(cifar_root), "cpu", train_subset=10000)
    _, history = fit(data, sizes=(3072, 256, 10), epochs=1, progress=False)
    assert history.test_acc[-1] > 0.3
