import dataclasses
import warnings

import pytest
import torch
from torch import nn

from hwlib.attribution import grad_cam
from hwlib.data import DeviceData
from hwlib.models import (
    CNNSettings,
    last_conv_block,
    load_or_train_cnn,
    position_contributions,
    small_cnn,
    tiny_cnn,
    train_cnn,
    whitening_weights,
)

TINY = CNNSettings(
    widths=(8, 8, 16), epochs=2, batch_size=50, lr=0.05, bf16=False
)


def seeded_cnn(widths=(8, 16, 16), seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = small_cnn(widths).double().eval()
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2)
    return model


def test_small_cnn_shapes_and_grad_cam_layer():
    model = seeded_cnn()
    assert model(torch.rand(2, 3, 32, 32, dtype=torch.float64)).shape == (
        2,
        10,
    )
    features = []
    last_conv_block(model).register_forward_hook(
        lambda m, i, o: features.append(o)
    )
    model(torch.rand(1, 3, 32, 32, dtype=torch.float64))
    assert features[0].shape == (1, 16, 4, 4)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)  # guided backprop
    assert not any(
        isinstance(m, (nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d))
        for m in model.modules()
    )


def test_tiny_cnn_is_seeded_locally_with_the_documented_layers():
    state = torch.get_rng_state()
    model = tiny_cnn(3)
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    assert model(x).shape == (2, 5)
    assert isinstance(model[5], nn.Conv2d)
    assert model[:6](x).shape == (2, 8, 4, 4)
    same, other = tiny_cnn(3), tiny_cnn(4)
    torch.testing.assert_close(model(x), same(x), rtol=0, atol=0)
    assert not torch.allclose(model(x), other(x))
    with pytest.raises(TypeError, match="seed must be an int >= 0, got 1.5"):
        tiny_cnn(1.5)


def test_position_contributions_sum_to_the_scores():
    model = seeded_cnn()
    x = torch.rand(3, 3, 32, 32, dtype=torch.float64)
    parts = position_contributions(model, x)
    assert parts.shape == (3, 10, 4, 4)
    torch.testing.assert_close(parts.sum(dim=(2, 3)), model(x))


def test_grad_cam_is_not_cam_for_this_head():
    """Grad-CAM averages each channel's weights over the 4x4 positions; the
    exact per-position map (CAM's analogue) keeps them. They differ here,
    while for a global-average-pool head they coincide."""
    model = seeded_cnn()
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
    layer = last_conv_block(model)
    target = torch.arange(4)
    cam = grad_cam(model, layer, x, target)
    exact = position_contributions(model, x)[target, target]  # (4, 4, 4)
    # Grad-CAM's definition for this head: the gradient of s_c with respect
    # to A^k_ij is scale * W[c, k, i, j], alpha_k its mean over i, j
    a = model[:-3](x)
    w = model[-2].weight.view(10, 16, 4, 4)[target] * model[-1].factor
    raw = torch.einsum("nkij,nk->nij", a, w.mean(dim=(2, 3)))
    torch.testing.assert_close(cam, torch.relu(raw).detach())
    # ... which is not the exact per-position map, nor proportional to it
    r = torch.corrcoef(torch.cat([raw.flatten(1), exact.flatten(1)]))
    assert (r.diagonal(offset=4) < 0.95).all()
    assert (exact - raw).abs().amax() > 0.1 * exact.abs().amax()

    # control: global average pooling + linear straight after the layer
    body = model[:-3]
    with torch.random.fork_rng():
        torch.manual_seed(1)
        head = nn.Linear(16, 10).double()
    gap = nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    a = body(x)  # (N, 16, 4, 4)
    cam_gap = torch.relu(torch.einsum("nkij,k->nij", a, head.weight[2]) / 16)
    torch.testing.assert_close(grad_cam(gap, layer, x, 2), cam_gap.detach())


def test_whitening_weights_whiten_the_patches():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.5, 0.2], [0.0, 1.0, 0.7], [0.3, 0.0, 1.0]])
    images = torch.einsum(
        "ij,njhw->nihw", mix, torch.randn(64, 3, 16, 16, generator=g)
    )
    images = images + images.roll(1, dims=3)  # correlate neighbours
    filters = whitening_weights(images, eps=0.0)
    assert filters.shape == (24, 3, 2, 2)
    torch.testing.assert_close(filters[12:], -filters[:12])
    out = nn.functional.conv2d(images, filters[:12]).permute(1, 0, 2, 3)
    out = out.reshape(12, -1)
    covariance = out @ out.T / out.shape[1]
    torch.testing.assert_close(covariance, torch.eye(12), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(
    "name, value",
    [
        ("widths", ()),
        ("widths", (8, 0)),
        ("widths", [8, 8]),
        ("epochs", 0),
        ("epochs", 2.0),
        ("batch_size", -1),
        ("lr", 0),
        ("lr", float("nan")),
        ("momentum", 1.0),
        ("weight_decay", -1e-4),
        ("label_smoothing", 1.0),
        ("translate", -1),
        ("warmup", 1.5),
        ("ema_decay", 1.0),
        ("seed", -1),
        ("seed", True),
    ],
)
def test_bad_settings_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        CNNSettings(**{name: value})


def test_settings_presets_and_types():
    assert CNNSettings.for_device("cpu") == CNNSettings()
    assert CNNSettings.for_device(torch.device("cuda")).widths == (
        64,
        256,
        256,
    )
    with pytest.raises(ValueError, match="device"):
        CNNSettings.for_device("meta")
    with pytest.raises(TypeError, match="tta"):
        CNNSettings(tta=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CNNSettings().epochs = 3
    with pytest.raises(ValueError, match="at most 5"):
        small_cnn((8,) * 6)


def test_train_cnn_refuses_bad_arguments(toy_data):
    data = toy_data(120, n_test=20)
    with pytest.raises(TypeError, match="DeviceData"):
        train_cnn((data.train_x, data.train_y))
    with pytest.raises(TypeError, match="settings must be a CNNSettings"):
        train_cnn(data, {"epochs": 1})
    small = DeviceData(
        data.train_x[:, :, :16, :16],
        data.train_y,
        data.test_x[:, :, :16, :16],
        data.test_y,
    )
    with pytest.raises(ValueError, match=r"train_x must be uint8 images"):
        train_cnn(small, TINY)


def test_train_cnn_record_is_reproducible_and_leaves_global_rng(
    device, toy_data
):
    data = toy_data(120, n_test=20, device=device)
    state = torch.random.get_rng_state()
    model, record = train_cnn(data, TINY)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not model.training
    assert record.device == str(device) and not record.from_cache
    assert len(record.test_acc) == len(record.epoch_seconds) == 2
    assert all(0 <= a <= 1 for a in record.test_acc) and record.seconds > 0
    assert record.settings == dataclasses.asdict(TINY)
    again, _ = train_cnn(data, TINY)
    for p, q in zip(model.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(p, q)


def test_training_learns_the_toy_task(toy_data):
    data = toy_data(600, n_test=100)
    settings = dataclasses.replace(TINY, epochs=8, lr=0.1, batch_size=25)
    _, record = train_cnn(data, settings)
    assert record.final_test_acc >= 0.5  # chance: 0.1


def test_cache_hit_miss_and_keys(tmp_path, monkeypatch, toy_data):
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data(120, n_test=20)
    model, record = load_or_train_cnn(data, TINY)
    assert not record.from_cache
    assert len(list(tmp_path.glob("cnn-*.pt"))) == 1
    again, record2 = load_or_train_cnn(data, TINY)
    assert record2.from_cache
    assert dataclasses.replace(record2, from_cache=False) == record
    x = torch.rand(3, 3, 32, 32)
    torch.testing.assert_close(model(x), again(x))
    other = dataclasses.replace(TINY, epochs=1)
    assert not load_or_train_cnn(data, other)[1].from_cache  # other key
    assert len(list(tmp_path.glob("cnn-*.pt"))) == 1  # the stale one went
    changed = DeviceData(
        data.train_x.clone(), data.train_y, data.test_x, data.test_y
    )
    changed.train_x[0, 0, 0, 0] += 1
    assert not load_or_train_cnn(changed, other)[1].from_cache


@pytest.mark.parametrize("damage", [b"", b"not a zip archive", "cut"])
def test_damaged_cache_is_named_removed_and_retrained(
    tmp_path, monkeypatch, damage, toy_data
):
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data(120, n_test=20)
    load_or_train_cnn(data, TINY)
    (path,) = tmp_path.glob("cnn-*.pt")
    content = path.read_bytes()
    path.write_bytes(
        content[: len(content) // 2] if damage == "cut" else damage
    )
    with pytest.warns(UserWarning, match=path.name):
        _, record = load_or_train_cnn(data, TINY)
    assert not record.from_cache
    assert load_or_train_cnn(data, TINY)[1].from_cache  # rebuilt


def test_unwritable_cache_warns_and_returns_the_model(
    tmp_path, monkeypatch, toy_data
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HWLIB_CACHE", str(blocker))
    with pytest.warns(UserWarning, match="could not write"):
        model, record = load_or_train_cnn(toy_data(120, n_test=20), TINY)
    assert isinstance(model, nn.Module) and len(record.test_acc) == 2


def test_foreign_cache_entry_is_retrained(tmp_path, monkeypatch, toy_data):
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data(120, n_test=20)
    load_or_train_cnn(data, TINY)
    (path,) = tmp_path.glob("cnn-*.pt")
    torch.save({"state_dict": {"w": torch.ones(1)}, "record": {}}, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, record = load_or_train_cnn(data, TINY)
    assert not record.from_cache
    assert any(path.name in str(w.message) for w in caught)


@pytest.mark.slow
def test_cpu_preset_reaches_its_accuracy_goal(cifar_root):
    # trained here, or loaded with the record of the run that trained it;
    # the cache ($HWLIB_CACHE) is the one the attribution chapter then uses
    from hwlib.data import load_cifar10

    data = DeviceData.from_cifar(load_cifar10(cifar_root), "cpu")
    _, record = load_or_train_cnn(data, CNNSettings.for_device("cpu"))
    assert record.final_test_acc >= 0.83
