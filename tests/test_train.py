import dataclasses
import inspect
import math
import re
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
from conftest import make_toy_data, needs_cuda

from hwlib.augment import CROP_PADDING, crop_offsets
from hwlib.data import DeviceData, same_device
from hwlib.nn import SGD, CrossEntropyLoss, mlp
from hwlib.plots import plot_curves
from hwlib.record import TrainingRecord
from hwlib.train import (
    TrainSettings,
    _augment_epoch,
    _GraphEpoch,
    epoch_batches,
    evaluate,
    fit,
    normalize,
    train_epoch,
    train_step,
)

SMALL = TrainSettings(sizes=(3072, 32, 10), epochs=4, lr=0.05, batch_size=50)


def test_fit_learns_and_records_history(device, toy_data):
    data = toy_data(device=device)
    model, record = fit(data, SMALL, progress=False)
    # the last test figures are the returned model's
    final = evaluate(model, CrossEntropyLoss(), data.test_x, data.test_y)
    assert (record.test_loss[-1], record.test_acc[-1]) == pytest.approx(final)
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
        generator=torch.Generator().manual_seed(5),
        augment=True,
    )
    total, correct = 0.0, 0
    batches = epoch_batches(
        data.train_x,
        data.train_y,
        32,
        generator=torch.Generator().manual_seed(5),
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
def test_epoch_batches_follow_the_documented_draws(device, augment, toy_data):
    """epoch_batches' promise: from `generator`, first the permutation of
    the N images, then (augmenting) every image's crop offsets
    (crop_offsets); batch k holds images order[kB : (k+1)B], each cut at
    its offsets from the zero-padded image; the last batch is smaller."""
    data = toy_data(120, device=device)  # 100 training images
    x, y = data.train_x, data.train_y
    n, p = len(y), CROP_PADDING
    seeded = lambda: torch.Generator(device=device).manual_seed(3)  # noqa: E731
    batches = list(
        epoch_batches(x, y, 32, generator=seeded(), augment=augment)
    )
    assert [len(labels) for _, labels in batches] == [32, 32, 32, 4]
    g = seeded()
    order = torch.randperm(n, generator=g, device=device)
    expected = x[order]
    if augment:  # brute force: slice each window out of the padded image
        offsets = crop_offsets(n, (32, 32), generator=g, device=device)
        padded = torch.nn.functional.pad(expected, (p, p, p, p))
        expected = torch.stack(
            [
                padded[i, :, top : top + 32, left : left + 32]
                for i, (top, left) in enumerate(offsets.T.tolist())
            ]
        )
        assert not torch.equal(expected, x[order])  # the crops moved them
    labels = torch.cat([labels for _, labels in batches])
    assert torch.equal(labels, y[order])
    assert not torch.equal(labels, y)  # shuffled, not in storage order
    assert torch.equal(torch.cat([images for images, _ in batches]), expected)


@pytest.mark.parametrize("augment", [False, True])
@pytest.mark.parametrize("n, batch_size", [(100, 32), (96, 32), (7, 50)])
def test_whole_epoch_augmentation_gives_the_per_batch_batches(
    device, augment, n, batch_size, toy_data
):
    """The fast path's one-shot epoch == the eager path's batches, joined."""
    data = toy_data(2 * n, device=device)
    x, y = data.train_x[:n], data.train_y[:n]
    gen = lambda: torch.Generator(device=device).manual_seed(11)  # noqa: E731
    batches = list(
        epoch_batches(x, y, batch_size, generator=gen(), augment=augment)
    )
    assert [len(b) for _, b in batches][-1] == n - batch_size * (
        (n - 1) // batch_size
    )  # the last batch is the partial one
    inputs, labels = _augment_epoch(x, y, generator=gen(), augment=augment)
    assert torch.equal(inputs, torch.cat([normalize(i) for i, _ in batches]))
    assert torch.equal(labels, torch.cat([lab for _, lab in batches]))
    if augment:  # the crops really move the images
        plain, _ = _augment_epoch(x, y, generator=gen(), augment=False)
        assert not torch.equal(inputs, plain)


def test_normalize_standardises_per_channel():
    x = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    out = normalize(x)
    assert out.shape == (2, 3072) and out.dtype == torch.float32
    torch.testing.assert_close(out[0, 0], torch.tensor((1 - 0.4914) / 0.2470))


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


def test_plot_curves_draws_train_and_test_per_run(toy_data):
    data = toy_data(120, device="cpu")
    settings = TrainSettings(sizes=(3072, 8, 10), epochs=2, batch_size=50)
    _, record = fit(data, settings, progress=False)
    axes = plot_curves({"a": record, "b": record})
    assert len(axes[0].lines) == len(axes[1].lines) == 4
    plt.close("all")


def test_plot_curves_can_draw_the_validation_split_instead(toy_data):
    data = toy_data(120, device="cpu").with_validation(40)
    settings = TrainSettings(sizes=(3072, 8, 10), epochs=2, batch_size=50)
    _, record = fit(data, settings, progress=False)
    axes = plot_curves({"a": record}, held_out="val")
    solid = {line.get_label(): line for line in axes[1].lines}
    assert list(solid["a: validation"].get_ydata()) == record.val_acc
    assert "a: test" not in solid
    with pytest.raises(ValueError, match="held_out must be 'test' or 'val'"):
        plot_curves({"a": record}, held_out="train")
    _, no_val = fit(toy_data(60, device="cpu"), settings, progress=False)
    with pytest.raises(ValueError, match="run 'b' has none"):
        plot_curves({"b": no_val}, held_out="val")
    plt.close("all")


# --- settings and arguments refused ---


def test_train_settings_are_frozen_and_normalise_sizes():
    settings = TrainSettings(sizes=[3072, 16, 10])
    assert settings.sizes == (3072, 16, 10)  # a list becomes a tuple
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0


def test_an_empty_record_has_no_final_accuracy():
    record = TrainingRecord(settings={}, device="cpu")
    assert record.test_acc == [] and not record.from_cache
    with pytest.raises(ValueError, match="this record holds no epochs"):
        record.final_test_acc  # noqa: B018


def epoch_args(data, batch_size) -> tuple:
    """train_epoch's positional arguments: a tiny MLP on data's device
    (the generator, keyword-only, is passed apart)."""
    model = mlp([3072, 4, 10], device=data.device)
    return (
        model,
        CrossEntropyLoss(),
        SGD(model, lr=0.1),
        data.train_x,
        data.train_y,
        batch_size,
    )


def test_fit_settings_default_is_none_not_a_shared_instance():
    # no shared default instance: None stands for TrainSettings()
    assert inspect.signature(fit).parameters["settings"].default is None


def test_train_step_is_one_sgd_step_on_a_batch():
    g = torch.Generator().manual_seed(0)
    models = [mlp([6, 5, 3], generator=torch.Generator().manual_seed(1))]
    models.append(mlp([6, 5, 3], generator=torch.Generator().manual_seed(1)))
    x = torch.randn(4, 6, generator=g)
    y = torch.tensor([0, 2, 1, 2])
    loss_fn = CrossEntropyLoss()
    loss, hits = train_step(models[0], loss_fn, SGD(models[0], lr=0.1), x, y)
    logits = models[1].forward(x)
    mean = loss_fn.forward(logits, y)
    models[1].backward(loss_fn.backward())
    SGD(models[1], lr=0.1).step()
    torch.testing.assert_close(loss, mean * 4)  # summed over the batch
    assert hits.item() == int((logits.argmax(1) == y).sum())
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q)


@needs_cuda
def test_train_epoch_refuses_a_generator_on_another_device(toy_data):
    args = epoch_args(toy_data(24, device="cuda"), 8)
    with pytest.raises(ValueError, match="generator is on cpu"):
        train_epoch(*args, generator=torch.Generator())


def toy(n=24, **kwargs):
    return make_toy_data(n, **kwargs)


def zeros(n):
    """n black uint8 images and their (zero) labels."""
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    return x, torch.zeros(n, dtype=torch.int64)


def train_epoch_on_toy(batch_size=8, *args, **kwargs):
    data = toy()
    return train_epoch(*epoch_args(data, batch_size), *args, **kwargs)


def evaluate_mlp(x, y, *args, **kwargs):
    return evaluate(
        mlp([3072, 4, 10]), CrossEntropyLoss(), x, y, *args, **kwargs
    )


def settings_with(**kwargs):
    return lambda: TrainSettings(**kwargs)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("epoch_batches: fewer labels than images", lambda: list(epoch_batches(*zeros(4)[:1], zeros(2)[1], 2)),
        ValueError, "x and y must have the same length, got 4 and 2"),
    ("normalize: 1-channel images", lambda: normalize(torch.zeros(2, 1, 32, 32, dtype=torch.uint8)),
        ValueError, "x must be uint8 images (N, 3, H, W), got shape (2, 1, 32, 32)"),
    ("normalize: channels-last images", lambda: normalize(torch.zeros(2, 32, 32, 3, dtype=torch.uint8)),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("normalize: a numpy batch", lambda: normalize(torch.zeros(2, 3, 32, 32).numpy()),
        TypeError, "x must be uint8 images (N, 3, H, W), got ndarray"),
    ("normalize: float images", lambda: normalize(torch.rand(2, 3, 32, 32)),
        TypeError, "normalize expects uint8 images (0..255), got torch.float32; images already in [0, 1] would be scaled twice"),
    ("evaluate: no images", lambda: evaluate_mlp(*zeros(0)),
        ValueError, "evaluate needs at least one image, got an empty set"),
    ("evaluate: batch_size 0", lambda: evaluate_mlp(*zeros(10), batch_size=0),
        ValueError, "batch_size must be an int >= 1, got 0"),
    ("evaluate: batch_size True", lambda: evaluate_mlp(*zeros(10), batch_size=True),
        TypeError, "batch_size must be an int >= 1, got True (bool)"),
    ("evaluate: batch_size positional", lambda: evaluate_mlp(*zeros(10), 10),
        TypeError, "positional argument"),
    ("settings: augment 1", settings_with(augment=1),
        TypeError, "augment must be True or False, got 1"),
    ("settings: augment None", settings_with(augment=None),
        TypeError, "augment must be True or False, got None"),
    ("settings: augment a string", settings_with(augment="yes"),
        TypeError, "augment must be True or False, got 'yes'"),
    ("settings: one size", settings_with(sizes=(3072,)),
        ValueError, "sizes must hold at least 2 ints, got (3072,)"),
    ("settings: a zero width", settings_with(sizes=(3072, 0, 10)),
        ValueError, "sizes[1] must be an int >= 1, got 0"),
    ("settings: a float width", settings_with(sizes=(3072, 2.5, 10)),
        TypeError, "sizes[1] must be an int >= 1, got 2.5 (float)"),
    ("settings: sizes a string", settings_with(sizes="3072"),
        TypeError, "sizes must be a tuple or list of ints, got '3072' (str)"),
    ("settings: sizes an int", settings_with(sizes=3072),
        TypeError, "sizes must be a tuple or list of ints, got 3072 (int)"),
    ("settings: positional", lambda: TrainSettings((3072, 10)),
        TypeError, "positional argument"),
    ("record: positional", lambda: TrainingRecord({}, "cpu"),
        TypeError, "positional argument"),
    ("fit: a tuple of tensors", lambda: fit((toy().train_x, toy().train_y), SMALL, progress=False),
        TypeError, "data must be a hwlib.data.DeviceData, got tuple"),
    ("fit: settings a dict", lambda: fit(toy(), {"epochs": 2}, progress=False),
        TypeError, "settings must be a TrainSettings, got dict"),
    ("fit: input width", lambda: fit(toy(), TrainSettings(sizes=(784, 10)), progress=False),
        ValueError, "settings.sizes[0] = 784 but the images have 3072 values"),
    ("fit: too few classes", lambda: fit(toy(), TrainSettings(sizes=(3072, 5)), progress=False),
        ValueError, "train_y must hold class indices 0..4 (settings.sizes[-1] = 5), got values 0..9"),
    ("fit: empty test set", lambda: fit(toy(n_test=0), SMALL, progress=False),
        ValueError, "data.test_x is empty; training evaluates every split"),
    ("fit: fast a string", lambda: fit(toy(), SMALL, progress=False, fast="auto"),
        TypeError, "fast must be True, False or None, got 'auto'"),
    ("fit: fast on the CPU", lambda: fit(toy(), SMALL, progress=False, fast=True),
        ValueError, "fast=True needs the data on a CUDA device, got cpu"),
    ("fit: progress positional", lambda: fit(toy(), SMALL, False),
        TypeError, "positional argument"),
    ("train_epoch: generator positional", lambda: train_epoch_on_toy(8, torch.Generator()),
        TypeError, "positional argument"),
    ("train_epoch: augment positional", lambda: train_epoch_on_toy(8, None, True),
        TypeError, "positional argument"),
    ("train_epoch: generator a seed", lambda: train_epoch_on_toy(8, generator=0),
        TypeError, "generator must be a torch.Generator or None, got int"),
    ("train_epoch: progress 1", lambda: train_epoch_on_toy(8, generator=None, progress=1),
        TypeError, "progress must be True or False, got 1"),
    ("train_epoch: augment a string", lambda: train_epoch_on_toy(8, generator=None, augment="yes"),
        TypeError, "augment must be True or False, got 'yes'"),
    ("train_epoch: batch_size 0", lambda: train_epoch_on_toy(0, generator=None),
        ValueError, "batch_size must be an int >= 1, got 0"),
    ("train_epoch: negative batch_size", lambda: train_epoch_on_toy(-1, generator=None),
        ValueError, "batch_size must be an int >= 1, got -1"),
    ("train_epoch: batch_size False", lambda: train_epoch_on_toy(False, generator=None),
        TypeError, "batch_size must be an int >= 1, got False (bool)"),
    ("epoch_batches: generator positional", lambda: epoch_batches(*zeros(4), 2, torch.Generator()),
        TypeError, "positional argument"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


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
        load_cifar10(cifar_root), "cpu", train_size=10000
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
            generator=gens[0],
            augment=True,
        )
        fast = graph.run(
            *_augment_epoch(x, y, generator=gens[1], augment=True)
        )
        assert fast[0] == pytest.approx(eager[0], rel=1e-5)
        assert fast[1] == eager[1]
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_a_diverged_run_stops_with_a_warning(toy_data):
    """lr = 1e4 blows the weights up (loss ~1e9 or more, then NaN logits,
    which CrossEntropyLoss refuses): fit warns, names the epoch and keeps
    only the epochs before it, whose losses are all sane."""
    data = toy_data(120, device="cpu")
    settings = TrainSettings(sizes=(3072, 16, 10), epochs=3, lr=1e4)
    with pytest.warns(UserWarning, match=r"diverged at epoch (\d)") as caught:
        _, record = fit(data, settings, progress=False)
    epoch = int(re.search(r"epoch (\d)", str(caught[0].message))[1])
    assert len(record.test_acc) == len(record.train_loss) == epoch - 1
    assert all(loss < 100 * math.log(10) for loss in record.train_loss)
    calm = TrainSettings(sizes=(3072, 16, 10), epochs=2, lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, record = fit(data, calm, progress=False)
    assert len(record.test_acc) == 2
