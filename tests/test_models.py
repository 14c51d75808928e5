import dataclasses
import re
import warnings

import pytest
import torch
from conftest import make_toy_data
from torch import nn

from hwlib import data as hwdata
from hwlib import models
from hwlib.attribution import grad_cam
from hwlib.cache import MANIFEST, save_atomic
from hwlib.check.fixtures import tiny_cnn
from hwlib.data import DeviceData
from hwlib.models import (
    CNNSettings,
    conv_block,
    evaluate_cnn,
    last_conv_block,
    load_or_train_cnn,
    position_contributions,
    small_cnn,
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


def test_settings_validate_like_train_settings():
    """Both settings classes: keyword-only, frozen, widths/sizes a tuple or
    list stored as a tuple, the same kinds of error for the same values."""
    from hwlib.train import TrainSettings

    assert CNNSettings(widths=[8, 8]).widths == (8, 8)
    assert TrainSettings(sizes=[12, 10]).sizes == (12, 10)
    for cls in (CNNSettings, TrainSettings):
        for value, error in (
            (2.0, TypeError),
            (True, TypeError),
            (0, ValueError),
        ):
            with pytest.raises(error, match="epochs must be an int >= 1"):
                cls(epochs=value)
        with pytest.raises(TypeError, match="positional argument"):
            cls((8, 8))


def test_num_classes_comes_from_the_data_module():
    assert models.NUM_CLASSES is hwdata.NUM_CLASSES == len(hwdata.CLASSES)
    assert not hasattr(models, "accuracy")  # evaluate_cnn(...)[1] instead


def test_conv_block_names_its_channels_like_torch():
    block = conv_block(in_channels=3, out_channels=5)
    assert block(torch.rand(2, 3, 8, 8)).shape == (2, 5, 4, 4)


def test_settings_presets_and_types():
    assert CNNSettings.for_device("cpu") == CNNSettings()
    assert CNNSettings.for_device(torch.device("cuda")).widths == (
        64,
        256,
        256,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        CNNSettings().epochs = 3


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
    assert len(list(tmp_path.glob("cnn-*.pt"))) == 2  # both settings kept
    assert load_or_train_cnn(data, TINY)[1].from_cache
    changed = DeviceData(
        data.train_x.clone(), data.train_y, data.test_x, data.test_y
    )
    changed.train_x[0, 0, 0, 0] += 1
    assert not load_or_train_cnn(changed, other)[1].from_cache


def test_only_older_versions_hwlib_wrote_are_removed(
    tmp_path, monkeypatch, toy_data
):
    """A user's cnn-my-best-model.pt and a cnn-*.pt hwlib has no record of
    survive a training run; a cache hwlib wrote for an older
    ARCHITECTURE_VERSION is removed."""
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    mine = tmp_path / "cnn-my-best-model.pt"
    torch.save({"mine": torch.ones(3)}, mine)
    unrecorded = tmp_path / "cnn-00000000000000000000.pt"
    unrecorded.write_bytes(b"x")
    older = tmp_path / "cnn-11111111111111111111.pt"
    save_atomic({"v": 1}, older, family="cnn/whiten-flatten-v0")
    _, record = load_or_train_cnn(toy_data(120, n_test=20), TINY)
    assert not older.exists()
    assert torch.equal(torch.load(mine)["mine"], torch.ones(3))
    assert unrecorded.read_bytes() == b"x"
    assert len(list(tmp_path.glob("cnn-*.pt"))) == 3


def test_a_cache_that_does_not_fit_is_reported_and_kept(
    tmp_path, monkeypatch, toy_data
):
    """It loads (a whole file) but is not this model's: reported, retrained,
    and, as hwlib did not write it, left as it is (not overwritten)."""
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data(120, n_test=20)
    load_or_train_cnn(data, TINY)
    (path,) = tmp_path.glob("cnn-*.pt")
    path.unlink()
    (tmp_path / MANIFEST).unlink()  # no record of writing it
    torch.save({"state_dict": {}, "record": {}}, path)  # a user's file
    with pytest.warns(UserWarning) as caught:
        _, record = load_or_train_cnn(data, TINY)
    messages = " ".join(str(w.message) for w in caught)
    assert f"unexpected cache {path}" in messages
    assert "a file hwlib did not write" in messages
    assert not record.from_cache
    assert torch.load(path) == {"state_dict": {}, "record": {}}


def test_damaged_cache_is_named_removed_and_retrained(
    tmp_path, monkeypatch, toy_data
):
    """One integration case (the kinds of damage: test_cache.py): the
    warning names the cache file, the model is retrained and returned (it
    predicts as the first one did), and the cache is written anew."""
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path))
    data = toy_data(120, n_test=20)
    first, first_record = load_or_train_cnn(data, TINY)
    (path,) = tmp_path.glob("cnn-*.pt")
    path.write_bytes(path.read_bytes()[:1000])  # a write cut short
    with pytest.warns(
        UserWarning, match=f"damaged cache {re.escape(str(path))}"
    ):
        model, record = load_or_train_cnn(data, TINY)
    assert not record.from_cache
    assert record.test_acc == first_record.test_acc
    x = torch.rand(3, 3, 32, 32)
    torch.testing.assert_close(model(x), first(x))
    assert load_or_train_cnn(data, TINY)[1].from_cache  # rebuilt


def test_unwritable_cache_warns_and_returns_the_model(
    tmp_path, monkeypatch, toy_data
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HWLIB_CACHE", str(blocker))
    data = toy_data(120, n_test=20)
    with pytest.warns(
        UserWarning, match=r"could not write the cache .*a-file"
    ):
        model, record = load_or_train_cnn(data, TINY)
    trained, trained_record = train_cnn(data, TINY)  # the same run, uncached
    x = torch.rand(3, 3, 32, 32)
    assert model(x).shape == (3, 10)
    torch.testing.assert_close(model(x), trained(x))
    assert record.test_acc == trained_record.test_acc
    assert not record.from_cache and blocker.is_file()


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


# --- arguments refused by name ---


def toy(n=120):
    return make_toy_data(n, n_test=20)


def cropped(data, side=16):
    """data with every image cut to side x side."""
    crop = (slice(None), slice(None), slice(side), slice(side))
    return DeviceData(
        data.train_x[crop], data.train_y, data.test_x[crop], data.test_y
    )


IMAGES = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
LABELS = torch.zeros(4, dtype=torch.int64)


def settings_with(**kwargs):
    return lambda: CNNSettings(**kwargs)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("small_cnn: a width of 10**6", lambda: small_cnn((10**6,)),
        ValueError, "block 0's conv weights would have 9000000000000 entries"),
    ("whitening_weights: NaN images", lambda: models.whitening_weights(torch.full((4, 3, 8, 8), float("nan"))),
        ValueError, "images must be finite, got 768 NaN/inf entries"),
    ("whitening_weights: a list", lambda: models.whitening_weights([1.0]),
        TypeError, "images must be a floating tensor (N, C, H, W), got list"),
    ("evaluate_cnn: float images in [0, 1] (would be divided by 255 again)", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES.float() / 255, LABELS),
        TypeError, "x must be uint8 images (0..255), got torch.float32"),
    ("evaluate_cnn: an empty set", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES[:0], LABELS[:0]),
        ValueError, "x and y must hold the same number N >= 1 of images and labels, got 0 and 0"),
    ("evaluate_cnn: one label short", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES, LABELS[:3]),
        ValueError, "got 4 and 3"),
    ("evaluate_cnn: channels-last images", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES.permute(0, 2, 3, 1), LABELS),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("evaluate_cnn: float labels", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES, LABELS.float()),
        TypeError, "y must be a tensor (N,) of torch.int64, got torch.float32"),
    ("last_conv_block: tiny_cnn has no conv block", lambda: last_conv_block(tiny_cnn()),
        ValueError, "model has no conv block"),
    ("last_conv_block: not a Sequential", lambda: last_conv_block(nn.Linear(2, 2)),
        TypeError, "model must be an nn.Sequential such as small_cnn(), got Linear"),
    ("small_cnn: 1-channel images (broadcast to 3 before)", lambda: seeded_cnn()(torch.rand(2, 1, 32, 32, dtype=torch.float64)),
        ValueError, "the model's input must be images (N, 3, H, W) in [0, 1], got shape (2, 1, 32, 32)"),
    ("small_cnn: channels-last images", lambda: seeded_cnn()(torch.rand(2, 32, 32, 3, dtype=torch.float64)),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("settings: no widths", settings_with(widths=()),
        ValueError, "widths must hold at least 1 int, got ()"),
    ("settings: a zero width", settings_with(widths=(8, 0)),
        ValueError, "widths[1] must be an int >= 1, got 0"),
    ("settings: widths an int", settings_with(widths=8),
        TypeError, "widths must be a tuple or list of ints, got 8 (int)"),
    ("settings: label_smoothing 1", settings_with(label_smoothing=1.0),
        ValueError, "label_smoothing must be a finite number in [0, 1), got 1.0"),
    ("settings: negative translate", settings_with(translate=-1),
        ValueError, "translate must be an int in [0, 16], got -1"),
    ("settings: translate above 16", settings_with(translate=17),
        ValueError, "translate must be an int in [0, 16], got 17"),
    ("settings: warmup above 1", settings_with(warmup=1.5),
        ValueError, "warmup must be a finite number in [0, 1], got 1.5"),
    ("settings: ema_decay 1", settings_with(ema_decay=1.0),
        ValueError, "ema_decay must be a finite number in [0, 1), got 1.0"),
    ("settings: tta 1", settings_with(tta=1),
        TypeError, "tta must be True or False, got 1"),
    ("settings: bf16 None", settings_with(bf16=None),
        TypeError, "bf16 must be True or False, got None"),
    ("settings: a preset for the meta device", lambda: CNNSettings.for_device("meta"),
        ValueError, "device must be a cpu or cuda device, got 'meta'"),
    ("small_cnn: more blocks than halvings", lambda: small_cnn((8,) * 6),
        ValueError, "widths has 6 blocks, each halving the image: 32x32 images allow at most 5"),
    ("tiny_cnn: a float seed", lambda: tiny_cnn(1.5),
        TypeError, "seed must be an int >= 0, got 1.5 (float)"),
    ("tiny_cnn: unknown device", lambda: tiny_cnn(device="gpu"),
        ValueError, "device must be a torch.device or a name such as 'cpu' or 'cuda', got 'gpu'"),
    ("evaluate_cnn: tta 1", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES, LABELS, tta=1),
        TypeError, "tta must be True or False, got 1"),
    ("evaluate_cnn: batch_size 0", lambda: evaluate_cnn(seeded_cnn().float(), IMAGES, LABELS, batch_size=0),
        ValueError, "batch_size must be an int >= 1, got 0"),
    ("train_cnn: a tuple of tensors", lambda: train_cnn((IMAGES, LABELS)),
        TypeError, "data must be a hwlib.data.DeviceData, got tuple"),
    ("train_cnn: settings a dict", lambda: train_cnn(toy(), {"epochs": 1}),
        TypeError, "settings must be a CNNSettings or None, got dict"),
    ("train_cnn: 16x16 images", lambda: train_cnn(cropped(toy()), TINY),
        ValueError, "data.train_x must be uint8 images (N, 3, 32, 32), got torch.uint8 (100, 3, 16, 16)"),
    ("load_or_train_cnn: a tuple of tensors", lambda: load_or_train_cnn((IMAGES, LABELS)),
        TypeError, "data must be a hwlib.data.DeviceData, got tuple"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


@pytest.mark.slow
def test_cpu_preset_reaches_its_accuracy_goal(cifar_root):
    # trained here, or loaded with the record of the run that trained it;
    # the cache ($HWLIB_CACHE) is the one the attribution chapter then uses
    from hwlib.data import load_cifar10

    data = DeviceData.from_cifar(load_cifar10(cifar_root), "cpu")
    _, record = load_or_train_cnn(data, CNNSettings.for_device("cpu"))
    assert record.final_test_acc >= 0.83
