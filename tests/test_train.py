import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from hwlib.data import DeviceData, same_device
from hwlib.nn import SGD, CrossEntropyLoss, mlp
from hwlib.train import (
    TrainingRecord,
    TrainSettings,
    _augment_epoch,
    _GraphEpoch,
    epoch_batches,
    evaluate,
    fit,
    normalize,
    plot_curves,
    train_epoch,
)

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"
)


SMALL = TrainSettings(sizes=(3072, 32, 10), epochs=4, lr=0.05, batch_size=50)


def test_fit_learns_and_records_history(device, toy_data):
    model, record = fit(toy_data(device=device), SMALL, progress=False)
    assert isinstance(record, TrainingRecord)
    assert len(record.train_loss) == len(record.test_acc) == 4
    assert len(record.epoch_seconds) == 4
    assert record.seconds == pytest.approx(sum(record.epoch_seconds))
    assert record.train_loss[-1] < record.train_loss[0]
    assert record.final_test_acc == record.test_acc[-1] > 0.5  # chance 0.1
    assert record.val_loss == record.val_acc == []  # no validation split
    assert same_device(record.device, device)  # 'cuda:0' is 'cuda'
    assert record.settings == dataclasses.asdict(SMALL)
    assert not record.from_cache
    assert same_device(model.parameters()[0].device, device)


def test_fit_records_validation_each_epoch(toy_data):
    data = toy_data(device="cpu").with_validation(100)
    model, record = fit(data, SMALL, progress=False)
    assert len(record.val_loss) == len(record.val_acc) == 4
    assert record.val_acc[-1] > 0.5
    # the last entries are the final model's figures on val_x and test_x
    loss_fn = CrossEntropyLoss()
    val = evaluate(model, loss_fn, data.val_x, data.val_y)
    test = evaluate(model, loss_fn, data.test_x, data.test_y)
    assert (record.val_loss[-1], record.val_acc[-1]) == pytest.approx(val)
    assert (record.test_loss[-1], record.test_acc[-1]) == pytest.approx(test)
    assert record.val_loss != record.test_loss


def test_fit_is_deterministic_on_the_cpu(toy_data):
    data = toy_data(device="cpu")
    settings = TrainSettings(
        sizes=(3072, 16, 10), epochs=2, batch_size=64, augment=True, seed=7
    )
    _, a = fit(data, settings, progress=False)
    _, b = fit(data, settings, progress=False)
    figures = ("train_loss", "train_acc", "test_loss", "test_acc")
    assert all(getattr(a, f) == getattr(b, f) for f in figures)
    _, c = fit(data, dataclasses.replace(settings, seed=8), progress=False)
    assert c.train_loss != a.train_loss


def test_train_epoch_matches_a_hand_written_loop_over_the_batches(toy_data):
    """The eager loop is SGD over epoch_batches' batches, nothing else."""
    data = toy_data(130, device="cpu")
    models = [
        mlp([3072, 8, 10], generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]
    loss_fn = CrossEntropyLoss()
    opts = [SGD(m, lr=0.1, momentum=0.9) for m in models]
    loss, acc = train_epoch(
        models[0],
        loss_fn,
        opts[0],
        data.train_x,
        data.train_y,
        32,
        torch.Generator().manual_seed(5),
        augment=True,
    )
    total, correct = 0.0, 0
    batches = epoch_batches(
        data.train_x,
        data.train_y,
        32,
        torch.Generator().manual_seed(5),
        augment=True,
    )
    for images, labels in batches:
        logits = models[1].forward(normalize(images))
        total += loss_fn.forward(logits, labels).item() * len(labels)
        models[1].backward(loss_fn.backward())
        opts[1].step()
        correct += int((logits.argmax(1) == labels).sum())
    n = len(data.train_y)
    assert loss == pytest.approx(total / n, rel=1e-5)
    assert acc == correct / n
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("augment", [False, True])
@pytest.mark.parametrize("n, batch_size", [(100, 32), (96, 32), (7, 50)])
def test_whole_epoch_augmentation_gives_the_per_batch_batches(
    device, augment, n, batch_size, toy_data
):
    """The fast path's one-shot epoch == the eager path's batches, joined."""
    data = toy_data(2 * n, device=device)
    x, y = data.train_x[:n], data.train_y[:n]
    gen = lambda: torch.Generator(device=device).manual_seed(11)  # noqa: E731
    batches = list(epoch_batches(x, y, batch_size, gen(), augment=augment))
    assert [len(b) for _, b in batches][-1] == n - batch_size * (
        (n - 1) // batch_size
    )  # the last batch is the partial one
    inputs, labels = _augment_epoch(x, y, gen(), augment=augment)
    assert torch.equal(inputs, torch.cat([normalize(i) for i, _ in batches]))
    assert torch.equal(labels, torch.cat([lab for _, lab in batches]))
    if augment:  # the crops really move the images
        plain, _ = _augment_epoch(x, y, gen(), augment=False)
        assert not torch.equal(inputs, plain)


def test_normalize_standardises_per_channel():
    x = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    out = normalize(x)
    assert out.shape == (2, 3072) and out.dtype == torch.float32
    torch.testing.assert_close(out[0, 0], torch.tensor((1 - 0.4914) / 0.2470))


def test_normalize_refuses_float_images():
    with pytest.raises(TypeError, match=r"uint8 .*scaled twice"):
        normalize(torch.rand(2, 3, 32, 32))


def test_evaluate_leaves_parameters_unchanged(toy_data):
    data = toy_data(device="cpu")
    model = mlp([3072, 8, 10], generator=torch.Generator().manual_seed(0))
    before = [p.clone() for p in model.parameters()]
    loss, acc = evaluate(
        model, CrossEntropyLoss(), data.test_x, data.test_y, batch_size=30
    )
    assert 0 <= acc <= 1 and loss > 0
    whole = evaluate(model, CrossEntropyLoss(), data.test_x, data.test_y)
    assert whole == pytest.approx((loss, acc), rel=1e-5)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))


@pytest.mark.parametrize(
    "n, batch_size, error, fragment",
    [
        (0, 2000, ValueError, "evaluate needs at least one image"),
        (10, 0, ValueError, "batch_size must be an int >= 1, got 0"),
        (
            10,
            True,
            TypeError,
            r"batch_size must be an int >= \d, got .*\(bool\)",
        ),
    ],
)
def test_evaluate_refuses_bad_input(n, batch_size, error, fragment):
    model = mlp([3072, 4, 10])
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    y = torch.zeros(n, dtype=torch.int64)
    with pytest.raises(error, match=fragment):
        evaluate(model, CrossEntropyLoss(), x, y, batch_size)


def test_plot_curves_draws_train_and_test_per_run(toy_data):
    data = toy_data(120, device="cpu")
    settings = TrainSettings(sizes=(3072, 8, 10), epochs=2, batch_size=50)
    _, record = fit(data, settings, progress=False)
    axes = plot_curves({"a": record, "b": record})
    assert len(axes[0].lines) == len(axes[1].lines) == 4
    plt.close("all")


# --- settings and arguments refused ---


@pytest.mark.parametrize(
    "field, value, error, fragment",
    [
        ("batch_size", 0, ValueError, "batch_size must be an int >= 1, got 0"),
        (
            "batch_size",
            -1,
            ValueError,
            "batch_size must be an int >= 1, got -1",
        ),
        (
            "batch_size",
            True,
            TypeError,
            r"batch_size must be an int >= \d, got .*\(bool\)",
        ),
        (
            "batch_size",
            12.5,
            TypeError,
            "batch_size must be an int >= 1, got 12.5",
        ),
        ("epochs", 0, ValueError, "epochs must be an int >= 1, got 0"),
        (
            "epochs",
            False,
            TypeError,
            r"epochs must be an int >= \d, got .*\(bool\)",
        ),
        (
            "lr",
            0.0,
            ValueError,
            r"lr must be a finite number in \(0, inf\), got 0.0",
        ),
        ("lr", -0.1, ValueError, "lr must be a finite number in"),
        ("lr", float("nan"), ValueError, "lr must be a finite number"),
        ("lr", float("inf"), ValueError, "lr must be a finite number"),
        ("lr", "0.1", TypeError, "lr must be a real number"),
        (
            "momentum",
            1.0,
            ValueError,
            r"momentum must be a finite number in \[0, 1\)",
        ),
        (
            "momentum",
            -0.5,
            ValueError,
            r"momentum must be a finite number in \[0, 1\)",
        ),
        (
            "weight_decay",
            -1e-4,
            ValueError,
            r"weight_decay must be a finite number in \[0, inf\)",
        ),
        ("augment", 1, TypeError, "augment must be True or False, got 1"),
        ("augment", "yes", TypeError, "augment must be True or False"),
        ("seed", -1, ValueError, "seed must be an int >= 0, got -1"),
        ("seed", True, TypeError, "seed must be an int >= 0, got True"),
        ("sizes", (3072,), ValueError, r"at least \(inputs, classes\)"),
        (
            "sizes",
            (3072, 0, 10),
            ValueError,
            r"sizes\[1\] must be an int >= 1, got 0",
        ),
        (
            "sizes",
            (3072, 2.5, 10),
            TypeError,
            r"sizes\[1\] must be an int >= 1, got 2.5",
        ),
        ("sizes", "3072", TypeError, "sizes must be a sequence"),
        ("sizes", 3072, TypeError, "sizes must be a sequence"),
    ],
)
def test_train_settings_refuse_bad_values(field, value, error, fragment):
    with pytest.raises(error, match=fragment):
        TrainSettings(**{field: value})


def test_train_settings_are_frozen_and_normalise_sizes():
    settings = TrainSettings(sizes=[3072, 16, 10])
    assert settings.sizes == (3072, 16, 10)  # a list becomes a tuple
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0


def test_fit_refuses_images_already_in_0_1():
    x = torch.rand(10, 3, 32, 32)
    y = torch.zeros(10, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"uint8 .*already scaled to \[0, 1\]"):
        fit(DeviceData(x, y, x, y), SMALL, progress=False)


@pytest.mark.parametrize(
    "data, settings, kwargs, error, fragment",
    [
        (
            "tuple",
            SMALL,
            {},
            TypeError,
            "data must be a hwlib.data.DeviceData",
        ),
        (
            "toy",
            {"epochs": 2},
            {},
            TypeError,
            "settings must be a TrainSettings",
        ),
        (
            "toy",
            TrainSettings(sizes=(784, 10)),
            {},
            ValueError,
            r"settings.sizes\[0\] = 784 but the images have 3072",
        ),
        (
            "toy",
            TrainSettings(sizes=(3072, 5)),
            {},
            ValueError,
            r"train_y must hold class indices 0..4 \(settings.sizes\[-1\] = 5",
        ),
        ("empty test", SMALL, {}, ValueError, "data.test_x is empty"),
        ("toy", SMALL, {"fast": "auto"}, TypeError, "fast must be True"),
        (
            "toy",
            SMALL,
            {"fast": True},
            ValueError,
            "fast=True needs the data on a CUDA device",
        ),
    ],
)
def test_fit_refuses_bad_arguments(
    data, settings, kwargs, error, fragment, toy_data
):
    toy = toy_data(24, device="cpu")
    if data == "empty test":
        data = DeviceData(
            toy.train_x, toy.train_y, toy.test_x[:0], toy.test_y[:0]
        )
    elif data == "tuple":
        data = (toy.train_x, toy.train_y)
    else:
        data = toy
    with pytest.raises(error, match=fragment):
        fit(data, settings, progress=False, **kwargs)


def epoch_args(data, batch_size, generator) -> tuple:
    """train_epoch's positional arguments: a tiny MLP on data's device."""
    model = mlp([3072, 4, 10], device=data.train_x.device)
    return (
        model,
        CrossEntropyLoss(),
        SGD(model, lr=0.1),
        data.train_x,
        data.train_y,
        batch_size,
        generator,
    )


def test_flags_are_keyword_only(toy_data):
    data = toy_data(24, device="cpu")
    args = epoch_args(data, 8, torch.Generator())
    with pytest.raises(TypeError):
        train_epoch(*args, True)  # augment= must be named
    with pytest.raises(TypeError):
        fit(data, SMALL, False)  # progress= must be named


@pytest.mark.parametrize(
    "batch_size, error, fragment",
    [
        (0, ValueError, "batch_size must be an int >= 1, got 0"),
        (-1, ValueError, "batch_size must be an int >= 1, got -1"),
        (False, TypeError, r"batch_size must be an int >= \d, got .*\(bool\)"),
    ],
)
def test_train_epoch_refuses_bad_batch_sizes(
    batch_size, error, fragment, toy_data
):
    args = epoch_args(toy_data(24, device="cpu"), batch_size, None)
    with pytest.raises(error, match=fragment):
        train_epoch(*args)


@needs_cuda
def test_train_epoch_refuses_a_generator_on_another_device(toy_data):
    args = epoch_args(toy_data(24, device="cuda"), 8, torch.Generator())
    with pytest.raises(ValueError, match="generator is on cpu"):
        train_epoch(*args)


# --- the CUDA graph path ---


@needs_cuda
@pytest.mark.parametrize("augment", [False, True])
def test_graph_and_eager_training_give_the_same_history(augment, toy_data):
    """Same batches, same arithmetic: equal up to float rounding (an
    accuracy may differ by a prediction or two flipped by rounding)."""
    data = toy_data(660, device="cuda").with_validation(60)  # 490: partial
    settings = dataclasses.replace(
        SMALL, augment=augment, momentum=0.9, weight_decay=1e-4
    )
    eager_model, eager = fit(data, settings, progress=False, fast=False)
    graph_model, graph = fit(data, settings, progress=False, fast=True)
    for split in ("train", "val", "test"):
        loss, acc = f"{split}_loss", f"{split}_acc"
        assert getattr(graph, loss) == pytest.approx(
            getattr(eager, loss), rel=1e-3
        ), loss
        assert getattr(graph, acc) == pytest.approx(
            getattr(eager, acc), abs=0.02
        ), acc
    for p, q in zip(graph_model.parameters(), eager_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)


@needs_cuda
def test_fit_uses_the_graph_path_by_default_on_cuda(monkeypatch, toy_data):
    import hwlib.train as train

    calls = []
    real = train._GraphEpoch.run
    monkeypatch.setattr(
        train._GraphEpoch,
        "run",
        lambda self, *a: calls.append(1) or real(self, *a),
    )
    fit(
        toy_data(120, device="cuda"),
        dataclasses.replace(SMALL, epochs=2),
        progress=False,
    )
    assert calls == [1, 1]


@pytest.mark.slow
def test_one_real_epoch_beats_chance_by_far(cifar_root):
    from hwlib.data import load_cifar10

    data = DeviceData.from_cifar(
        load_cifar10(cifar_root), "cpu", train_subset=10000
    )
    settings = TrainSettings(sizes=(3072, 256, 10), epochs=1)
    _, record = fit(data, settings, progress=False)
    assert record.final_test_acc > 0.3


@pytest.mark.parametrize("momentum, weight_decay", [(0.9, 1e-3), (0.0, 0.0)])
def test_graph_epoch_bookkeeping_matches_the_eager_loop(
    momentum, weight_decay, toy_data
):
    """The fast path's buffers, warm-up (undone) and zero momentum buffers,
    run without capture on the CPU: same parameters and figures as
    train_epoch after two epochs with a partial last batch."""
    data = toy_data(130, device="cpu")  # 109 training images, batches of 32
    x, y = data.train_x, data.train_y
    models = [
        mlp([3072, 8, 10], generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]
    opts = [
        SGD(m, lr=0.05, momentum=momentum, weight_decay=weight_decay)
        for m in models
    ]
    graph = _GraphEpoch(models[1], opts[1], len(y), 3072, 32, capture=False)
    gens = [torch.Generator().manual_seed(4) for _ in range(2)]
    for _ in range(2):
        eager = train_epoch(
            models[0],
            CrossEntropyLoss(),
            opts[0],
            x,
            y,
            32,
            gens[0],
            augment=True,
        )
        fast = graph.run(*_augment_epoch(x, y, gens[1], augment=True))
        assert fast[0] == pytest.approx(eager[0], rel=1e-5)
        assert fast[1] == eager[1]
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
