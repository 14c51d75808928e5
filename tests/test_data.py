import os
import re
import time

import numpy as np
import pytest
import torch
from conftest import needs_cuda
from PIL import Image

from hwlib import data as hwdata
from hwlib.augment import random_crop
from hwlib.cache import save_atomic
from hwlib.data import (
    CIFAR10,
    CIFAR10_ENV_VAR,
    CLASSES,
    NUM_CLASSES,
    DatasetError,
    DeviceData,
    corrupt_labels,
    load_cifar10,
    resolve_root,
    same_device,
)


def make_image_folder(root, per_class=2, size=32, classes=CLASSES):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture
def small_cifar(monkeypatch):
    """Integrity checks expect 2 images per class and split (20 + 20)."""
    monkeypatch.setattr(hwdata, "SPLIT_SIZES", {"train": 20, "test": 20})


def caches(root):
    return sorted(p.name for p in root.glob("hwlib-cifar10-*.pt"))


# --- where the data come from ---


def test_missing_dataset_error_names_folder_variable_and_download(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path / "nowhere")
    message = str(err.value)
    assert str((tmp_path / "nowhere").resolve()) in message
    assert "$HWLIB_CIFAR10" in message and "download=True" in message


def test_broken_torchvision_folder_is_reported(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetError, match="Could not read or download"):
        load_cifar10(tmp_path, download=False)


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv("HWLIB_CIFAR10", raising=False)
    assert str(resolve_root()) == "data"
    monkeypatch.setenv("HWLIB_CIFAR10", str(tmp_path))
    assert resolve_root() == tmp_path
    assert str(resolve_root("elsewhere")) == "elsewhere"


def test_tilde_is_expanded_in_variable_and_argument(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HWLIB_CIFAR10", "~/cifar")
    assert resolve_root() == tmp_path / "cifar"
    assert resolve_root("~/other") == tmp_path / "other"


def test_empty_variable_neither_creates_data_nor_downloads(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HWLIB_CIFAR10", "")

    def no_download(root, download):
        raise AssertionError("must not try torchvision")

    monkeypatch.setattr(hwdata, "_load_torchvision", no_download)
    assert resolve_root() == hwdata.Path("data")
    with pytest.raises(DatasetError, match="No CIFAR-10 found"):
        load_cifar10()
    assert not (tmp_path / "data").exists()


def test_constants_name_the_variable_and_the_classes():
    assert CIFAR10_ENV_VAR == "HWLIB_CIFAR10"
    assert NUM_CLASSES == len(CLASSES) == 10


# --- decoding, labels, caches ------------------------------------------------


def test_image_folder_decoding_labels_and_cache(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    first = load_cifar10(root)
    assert first.train_x.shape == (20, 3, 32, 32)
    assert first.train_x.dtype == torch.uint8
    assert first.train_y.tolist() == [c for c in range(10) for _ in range(2)]
    png = np.array(Image.open(root / "train" / "bird" / "0001.png"))
    # bird = label 2, its second image
    assert torch.equal(
        first.train_x[5], torch.from_numpy(png).permute(2, 0, 1)
    )
    second = load_cifar10(root)
    assert "cached" in second.source
    assert torch.equal(second.train_x, first.train_x)
    assert len(caches(root)) == 1


def test_changed_folder_rebuilds_and_keeps_one_cache(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    load_cifar10(root)
    old = caches(root)
    for step in range(3):  # touching an image three times
        image = root / "train" / "cat" / "0000.png"
        os.utime(image, ns=(step, 10**18 + step))
        assert "cached" not in load_cifar10(root).source
    assert len(caches(root)) == 1 and caches(root) != old


def test_damaged_cache_is_named_removed_and_rebuilt(tmp_path, small_cifar):
    """One integration case (the kinds of damage: test_cache.py): the
    warning names the cache, the images are decoded again and returned,
    and the cache is written anew."""
    root = make_image_folder(tmp_path)
    good = load_cifar10(root)
    (cache,) = root.glob("hwlib-cifar10-*.pt")
    cache.write_bytes(cache.read_bytes()[:100])  # a write cut short
    with pytest.warns(UserWarning, match=re.escape(f"damaged cache {cache}")):
        again = load_cifar10(root)
    assert "cached" not in again.source
    assert torch.equal(again.train_x, good.train_x)
    assert torch.equal(again.test_y, good.test_y)
    assert caches(root) == [cache.name]
    assert "cached" in load_cifar10(root).source  # rebuilt


def test_cache_of_the_wrong_shape_is_rebuilt(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    good = load_cifar10(root)
    (cache,) = root.glob("hwlib-cifar10-*.pt")
    torch.save({"train_x": torch.zeros(3)}, cache)
    with pytest.warns(UserWarning, match=f"unexpected cache {cache}"):
        assert torch.equal(load_cifar10(root).test_x, good.test_x)


def test_unwritable_cache_warns_and_returns_the_data(
    monkeypatch, tmp_path, small_cifar
):
    root = make_image_folder(tmp_path / "images")
    (tmp_path / "file").write_text("HWLIB_CACHE points at a file")
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path / "file"))
    real_access = os.access
    monkeypatch.setattr(  # a read-only image folder (we run as root)
        hwdata.os,
        "access",
        lambda p, mode: (
            False if hwdata.Path(p) == root else real_access(p, mode)
        ),
    )
    with pytest.warns(UserWarning, match=r"could not write the cache .*file"):
        data = load_cifar10(root)
    assert data.train_x.shape == (20, 3, 32, 32)
    assert caches(root) == []


def test_read_only_folder_caches_in_the_cache_dir(
    monkeypatch, tmp_path, small_cifar
):
    root = make_image_folder(tmp_path / "images")
    monkeypatch.setenv("HWLIB_CACHE", str(tmp_path / "cache"))
    real_access = os.access
    monkeypatch.setattr(
        hwdata.os,
        "access",
        lambda p, mode: (
            False if hwdata.Path(p) == root else real_access(p, mode)
        ),
    )
    load_cifar10(root)
    assert caches(root) == [] and len(caches(tmp_path / "cache")) == 1


def test_no_cache_for_data_that_fail_the_checks(tmp_path):
    root = make_image_folder(tmp_path)  # 20 images, not 50,000
    with pytest.raises(DatasetError, match=r"expected \(50000, 3, 32, 32\)"):
        load_cifar10(root)
    assert caches(root) == []


# --- damaged data named ---


def corrupt(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:60])
    elif how == "31x32":
        Image.fromarray(np.zeros((32, 31, 3), np.uint8)).save(path)
    elif how == "grey":
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(path)
    elif how == "rgba":
        Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(path)
    elif how == "text":
        path.write_text("not an image")


def test_every_unreadable_image_is_named(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    bad = {
        root / "train" / "cat" / "0000.png": "truncated",
        root / "train" / "dog" / "0001.png": "31x32",
        root / "test" / "frog" / "0000.png": "grey",
        root / "test" / "ship" / "0001.png": "text",
    }
    for path, how in bad.items():
        corrupt(path, how)
    with pytest.raises(DatasetError) as err:
        load_cifar10(root)
    message = str(err.value)
    for path in bad:
        assert str(path) in message
    assert "31x32 pixels, expected 32x32" in message
    assert "mode L, expected RGB" in message
    assert caches(root) == []


def test_many_bad_images_named_up_to_a_handful(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    for name in CLASSES[:7]:
        corrupt(root / "train" / name / "0000.png", "rgba")
    with pytest.raises(
        DatasetError, match=r"(?s)cannot be read .*\(7\).*and 2 more"
    ):
        load_cifar10(root)


def test_hidden_and_non_image_files_are_skipped(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    (root / "train" / "cat" / "._0000.png").write_bytes(b"\x00\x05\x16\x07")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    (root / "train" / "cat" / "notes.txt").write_text("hello")
    (root / "train" / ".ipynb_checkpoints").mkdir()
    (root / "README.md").write_text("the JPEG copy")
    assert load_cifar10(root).train_x.shape == (20, 3, 32, 32)


def test_folder_with_an_image_name_is_named(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    (root / "test" / "deer" / "x.jpg").mkdir()
    with pytest.raises(
        DatasetError, match=r"are not files \(1\):\n.*deer/x\.jpg"
    ):
        load_cifar10(root)


def test_class_folders_must_be_cifar10s_ten_names(tmp_path):
    names = [c for c in CLASSES if c != "dog"] + ["dogs", "zebra"]
    root = make_image_folder(tmp_path, per_class=1, classes=names)
    with pytest.raises(DatasetError) as err:
        load_cifar10(root)
    assert "missing: ['dog']" in str(err.value)
    assert "extra: ['dogs', 'zebra']" in str(err.value)


def test_few_classes_are_refused_by_name(tmp_path):
    root = make_image_folder(tmp_path, per_class=1, classes=("a", "b", "c"))
    with pytest.raises(DatasetError, match="missing: .*'airplane'"):
        load_cifar10(root)


# --- DeviceData ---


def device_data(n=40, device="cpu"):
    x = torch.arange(n, dtype=torch.uint8)[:, None, None, None]
    x = x.expand(n, 3, 32, 32).contiguous()  # image i is all i
    y = torch.arange(n) % 10
    return DeviceData(
        x.to(device), y.to(device), x[:8].to(device), y[:8].to(device)
    )


X = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
Y = torch.zeros(4, dtype=torch.int64)


def test_with_validation_moves_a_random_held_out_split(device):
    data = device_data(device=device)
    split = data.with_validation(10, seed=3)
    assert len(split.train_y) == 30 and len(split.val_y) == 10
    assert same_device(split.val_x.device, device)
    ids = torch.cat([split.train_x[:, 0, 0, 0], split.val_x[:, 0, 0, 0]])
    assert sorted(ids.tolist()) == list(range(40))  # disjoint, complete
    assert split.val_x[:, 0, 0, 0].tolist() != list(range(10))  # random
    assert torch.equal(split.val_y, split.val_x[:, 0, 0, 0].long() % 10)
    assert torch.equal(split.test_x, data.test_x)
    again = data.with_validation(10, seed=3)
    assert torch.equal(again.val_x, split.val_x)
    other = data.with_validation(10, seed=4)
    assert not torch.equal(other.val_x, split.val_x)


def fake_cifar(n=30):
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    y = torch.arange(n) % 10
    return CIFAR10(x, y, x[:10], y[:10], CLASSES, "fake")


def test_from_cifar_keeps_a_random_subset():
    data = DeviceData.from_cifar(fake_cifar(), "cpu", train_size=12)
    assert len(data.train_y) == 12 and len(data.test_y) == 10
    assert DeviceData.from_cifar(fake_cifar(), "cpu").train_x.shape[0] == 30


# --- devices and generators ---


def test_same_device_treats_an_index_free_name_as_the_current_device():
    assert same_device("cuda", "cuda:0") and same_device("cuda:0", "cuda")
    assert same_device(torch.device("cpu"), "cpu")
    assert not same_device("cuda:0", "cuda:1")
    assert not same_device("cpu", "cuda")


@needs_cuda
def test_generator_on_the_wrong_device_is_refused_everywhere():
    cpu_gen, x = torch.Generator(), torch.zeros(2, 3, 8, 8, device="cuda")
    with pytest.raises(ValueError, match="generator is on cpu"):
        random_crop(x, 8, generator=cpu_gen)
    with pytest.raises(ValueError, match="generator is on cpu"):
        corrupt_labels(
            torch.zeros(4, dtype=torch.long, device="cuda"),
            0.5,
            generator=cpu_gen,
        )
    with pytest.raises(ValueError, match="generator is on cuda"):
        random_crop(x.cpu(), 8, generator=torch.Generator(device="cuda"))


# --- label noise ---


def test_corrupt_labels_replaces_the_requested_fraction(device):
    g = torch.Generator(device=device).manual_seed(0)
    labels = torch.randint(0, 10, (10000,), device=device, generator=g)
    original = labels.clone()
    noisy = corrupt_labels(labels, 0.4, generator=g)
    changed = (noisy != labels).float().mean().item()
    # a tenth of the replacements hit the true label again
    assert abs(changed - 0.4 * 0.9) < 0.02
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert noisy.dtype == labels.dtype
    assert torch.equal(corrupt_labels(labels, 0.0, generator=g), labels)
    assert torch.equal(labels, original)  # the input is not modified


# --- arguments refused by name ---


LABELS = torch.tensor([0, 3, 9, 1])


def from_cifar(*args, **kwargs):
    return DeviceData.from_cifar(fake_cifar(), "cpu", *args, **kwargs)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("load_cifar10: root an int", lambda: load_cifar10(3),
        TypeError, "root must be a folder (a str or a path) or None, got 3 (int)"),
    ("load: empty root", lambda: load_cifar10(root=""),
        ValueError, "root must name a folder, got an empty string"),
    ("load: download a string", lambda: load_cifar10(root="x", download="yes"),
        TypeError, "download must be True, False or None, got 'yes'"),
    ("load: download positional", lambda: load_cifar10("x", False),
        TypeError, "positional argument"),
    ("DeviceData: float images", lambda: DeviceData(X.float() / 255, Y, X, Y),
        TypeError, "train_x must hold uint8 images (0..255), got torch.float32. Images already scaled to [0, 1] would be divided by 255 a second time"),
    ("DeviceData: float64 test images", lambda: DeviceData(X, Y, X.double(), Y),
        TypeError, "test_x must hold uint8 images (0..255), got torch.float64"),
    ("DeviceData: one channel", lambda: DeviceData(X[:, :1], Y, X, Y),
        ValueError, "train_x must be RGB images (N, 3, H, W), got shape (4, 1, 32, 32)"),
    ("DeviceData: no batch dimension", lambda: DeviceData(X[0], Y, X, Y),
        ValueError, "train_x must be RGB images (N, 3, H, W), got shape (3, 32, 32)"),
    ("DeviceData: int32 labels", lambda: DeviceData(X, Y.int(), X, Y),
        ValueError, "train_y must be int64 labels of shape (4,), got torch.int32 (4,)"),
    ("DeviceData: a label short", lambda: DeviceData(X, Y[:3], X, Y),
        ValueError, "train_y must be int64 labels of shape (4,), got torch.int64 (3,)"),
    ("DeviceData: no training images", lambda: DeviceData(X[:0], Y[:0], X, Y),
        ValueError, "train_x holds no images"),
    ("DeviceData: val_x without val_y", lambda: DeviceData(X, Y, X, Y, X),
        ValueError, "give both val_x and val_y, or neither"),
    ("DeviceData: a numpy array", lambda: DeviceData(X.numpy(), Y, X, Y),
        TypeError, "train_x must be a tensor, got ndarray"),
    ("with_validation: 0", lambda: device_data().with_validation(0),
        ValueError, "val_size must be an int in [1, 39], got 0"),
    ("with_validation: all 40", lambda: device_data().with_validation(40),
        ValueError, "val_size must be an int in [1, 39], got 40"),
    ("with_validation: negative", lambda: device_data().with_validation(-3),
        ValueError, "val_size must be an int in [1, 39], got -3"),
    ("with_validation: True", lambda: device_data().with_validation(True),
        TypeError, "val_size must be an int in [1, 39], got True (bool)"),
    ("with_validation: a float", lambda: device_data().with_validation(2.5),
        TypeError, "val_size must be an int in [1, 39], got 2.5 (float)"),
    ("with_validation: one training image", lambda: device_data(1).with_validation(1),
        ValueError, "a validation split needs at least 2 training images, this data has 1"),
    ("with_validation: twice", lambda: device_data().with_validation(5).with_validation(5),
        ValueError, "this data already has a validation split"),
    ("from_cifar: train_size 0", lambda: from_cifar(train_size=0),
        ValueError, "train_size must be an int in [1, 30], got 0"),
    ("from_cifar: train_size above N", lambda: from_cifar(train_size=31),
        ValueError, "train_size must be an int in [1, 30], got 31"),
    ("from_cifar: train_size True", lambda: from_cifar(train_size=True),
        TypeError, "train_size must be an int in [1, 30], got True (bool)"),
    ("from_cifar: train_size a float", lambda: from_cifar(train_size=1.5),
        TypeError, "train_size must be an int in [1, 30], got 1.5 (float)"),
    ("from_cifar: train_size positional", lambda: from_cifar(12),
        TypeError, "positional argument"),
    ("from_cifar: unknown device", lambda: DeviceData.from_cifar(fake_cifar(), "gpu"),
        ValueError, "device must be a torch.device or a name such as 'cpu' or 'cuda', got 'gpu'"),
    ("corrupt_labels: fraction above 1", lambda: corrupt_labels(LABELS, 1.5),
        ValueError, "fraction must be a finite number in [0, 1], got 1.5"),
    ("corrupt_labels: negative fraction", lambda: corrupt_labels(LABELS, -0.1),
        ValueError, "fraction must be a finite number in [0, 1], got -0.1"),
    ("corrupt_labels: fraction NaN", lambda: corrupt_labels(LABELS, float("nan")),
        ValueError, "fraction must be a finite number in [0, 1], got nan"),
    ("corrupt_labels: fraction True", lambda: corrupt_labels(LABELS, True),
        TypeError, "fraction must be a real number, got True (bool)"),
    ("corrupt_labels: fraction a string", lambda: corrupt_labels(LABELS, "0.5"),
        TypeError, "fraction must be a real number, got '0.5' (str)"),
    ("corrupt_labels: num_classes 0", lambda: corrupt_labels(LABELS, 0.5, num_classes=0),
        ValueError, "num_classes must be an int >= 1, got 0"),
    ("corrupt_labels: negative num_classes", lambda: corrupt_labels(LABELS, 0.5, num_classes=-2),
        ValueError, "num_classes must be an int >= 1, got -2"),
    ("corrupt_labels: num_classes True", lambda: corrupt_labels(LABELS, 0.5, num_classes=True),
        TypeError, "num_classes must be an int >= 1, got True (bool)"),
    ("corrupt_labels: labels beyond num_classes", lambda: corrupt_labels(LABELS, 0.5, num_classes=5),
        ValueError, "labels must lie in 0..4 (num_classes=5), got values 0..9"),
    ("corrupt_labels: float labels", lambda: corrupt_labels(LABELS.float(), 0.5),
        TypeError, "labels must be an integer tensor (N,), got torch.float32"),
    ("corrupt_labels: 2-D labels", lambda: corrupt_labels(LABELS[None], 0.5),
        ValueError, "labels must be an integer tensor (N,), got shape (1, 4)"),
    ("corrupt_labels: a list", lambda: corrupt_labels([0, 1], 0.5),
        TypeError, "labels must be an integer tensor (N,), got list"),
    ("corrupt_labels: num_classes positional", lambda: corrupt_labels(LABELS, 0.5, 10),
        TypeError, "positional argument"),
    ("corrupt_labels: generator an int", lambda: corrupt_labels(LABELS, 0.5, generator=0),
        TypeError, "generator must be a torch.Generator or None, got int"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


# --- real data ---


@pytest.mark.slow
def test_real_cifar10_loads_and_second_load_is_fast(cifar_root):
    data = load_cifar10(cifar_root)
    assert data.classes == CLASSES
    assert data.train_x.shape == (50000, 3, 32, 32)
    assert data.test_x.shape == (10000, 3, 32, 32)
    assert data.train_y.bincount().tolist() == [5000] * 10
    assert data.test_y.bincount().tolist() == [1000] * 10
    start = time.perf_counter()
    again = load_cifar10(cifar_root)
    assert "cached" in again.source
    # about a second on an idle machine; decoding the JPEGs takes minutes
    assert time.perf_counter() - start < 10.0
    assert torch.equal(again.test_x, data.test_x)


def test_files_hwlib_did_not_write_in_the_folder_are_left_alone(
    tmp_path, small_cifar
):
    """An older naming's cache, or a user's file that looks like a stale
    cache: hwlib has no record of writing them, so they stay."""
    root = make_image_folder(tmp_path)
    load_cifar10(root)
    (keep,) = caches(root)
    foreign = ["hwlib-cifar10-0123456789abcdef.pt", keep[:22] + "-mine.pt"]
    for name in foreign:
        (root / name).write_bytes(b"old")
    assert "cached" in load_cifar10(root).source
    assert caches(root) == sorted([keep, *foreign])


def test_stale_caches_hwlib_wrote_go_on_a_cache_hit_too(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    load_cifar10(root)
    (keep,) = caches(root)
    stale = root / (keep[:22] + "-0000000000000000.pt")
    save_atomic({"v": 1}, stale, family="cifar10/" + keep[:22])  # on record
    assert "cached" in load_cifar10(root).source
    assert caches(root) == [keep]
