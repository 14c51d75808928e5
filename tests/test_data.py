import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from hwlib import data as hwdata
from hwlib.data import (
    CIFAR10,
    CLASSES,
    DatasetError,
    DeviceData,
    corrupt_labels,
    crop_at,
    crop_offsets,
    load_cifar10,
    random_crop,
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


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"root": ""}, ValueError, "root must name a folder"),
        ({"root": "x", "download": "yes"}, TypeError, "download must be"),
    ],
)
def test_load_arguments_are_checked(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        load_cifar10(**kwargs)


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


@pytest.mark.parametrize(
    "content", [b"", b"junk" * 100, b"PK\x03\x04 cut off"]
)
def test_damaged_cache_is_named_removed_and_rebuilt(
    tmp_path, small_cifar, content
):
    root = make_image_folder(tmp_path)
    good = load_cifar10(root)
    (cache,) = root.glob("hwlib-cifar10-*.pt")
    cache.write_bytes(content)
    with pytest.warns(UserWarning, match=f"damaged cache {cache}"):
        again = load_cifar10(root)
    assert "cached" not in again.source
    assert torch.equal(again.train_x, good.train_x)
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


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((X.float() / 255, Y, X, Y), TypeError, r"uint8 .*already scaled"),
        ((X, Y, X.double(), Y), TypeError, "test_x must hold uint8"),
        ((X[:, :1], Y, X, Y), ValueError, r"RGB images \(N, 3, H, W\)"),
        ((X[0], Y, X, Y), ValueError, r"got shape \(3, 32, 32\)"),
        ((X, Y.int(), X, Y), ValueError, "train_y must be int64"),
        ((X, Y[:3], X, Y), ValueError, r"shape \(4,\)"),
        ((X[:0], Y[:0], X, Y), ValueError, "train_x holds no images"),
        ((X, Y, X, Y, X), ValueError, "both val_x and val_y"),
        ((X.numpy(), Y, X, Y), TypeError, "must be a tensor"),
    ],
)
def test_device_data_refuses_bad_tensors(args, error, fragment):
    with pytest.raises(error, match=fragment):
        DeviceData(*args)


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


@pytest.mark.parametrize(
    "size, error, fragment",
    [
        (0, ValueError, "size must be an int >= 1, got 0"),
        (40, ValueError, "size must be at most 39, got 40"),
        (-3, ValueError, "got -3"),
        (True, TypeError, r"size must be an int >= \d, got .*\(bool\)"),
        (2.5, TypeError, r"size must be an int >= \d, got .*\(float\)"),
    ],
)
def test_with_validation_refuses_bad_sizes(size, error, fragment):
    with pytest.raises(error, match=fragment):
        device_data().with_validation(size)


def test_with_validation_twice_is_refused():
    with pytest.raises(ValueError, match="already has a validation split"):
        device_data().with_validation(5).with_validation(5)


def fake_cifar(n=30):
    x = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    y = torch.arange(n) % 10
    return CIFAR10(x, y, x[:10], y[:10], CLASSES, "fake")


def test_from_cifar_keeps_a_random_subset():
    data = DeviceData.from_cifar(fake_cifar(), "cpu", train_subset=12)
    assert len(data.train_y) == 12 and len(data.test_y) == 10
    assert DeviceData.from_cifar(fake_cifar(), "cpu").train_x.shape[0] == 30


@pytest.mark.parametrize(
    "subset, error, fragment",
    [
        (0, ValueError, "train_subset must be an int >= 1, got 0"),
        (-5, ValueError, "got -5"),
        (31, ValueError, "train_subset must be at most 30, got 31"),
        (
            True,
            TypeError,
            r"train_subset must be an int >= \d, got .*\(bool\)",
        ),
        (1.5, TypeError, r"got 1.5 \(float\)"),
    ],
)
def test_from_cifar_refuses_bad_subsets(subset, error, fragment):
    with pytest.raises(error, match=fragment):
        DeviceData.from_cifar(fake_cifar(), "cpu", train_subset=subset)


# --- devices and generators ---


def test_same_device_treats_an_index_free_name_as_the_current_device():
    assert same_device("cuda", "cuda:0") and same_device("cuda:0", "cuda")
    assert same_device(torch.device("cpu"), "cpu")
    assert not same_device("cuda:0", "cuda:1")
    assert not same_device("cpu", "cuda")


def test_generator_rule_is_checked_before_drawing():
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        crop_offsets(2, (32, 32), generator=0)
    with pytest.raises(ValueError, match=r"generator is on cpu .*cuda"):
        crop_offsets(2, (32, 32), generator=torch.Generator(), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
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


# --- random crops ---


def test_random_crop_cuts_windows_of_the_zero_padded_image(device):
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randint(
        1, 256, (16, 3, 32, 32), dtype=torch.uint8, device=device, generator=g
    )
    crops = random_crop(x, generator=g)
    assert crops.shape == x.shape and crops.dtype == x.dtype
    assert same_device(crops.device, x.device)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(len(x)):  # brute force: exactly one window matches
        matches = [
            (t, l)
            for t in range(9)
            for l in range(9)
            if torch.equal(padded[i, :, t : t + 32, l : l + 32], crops[i])
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 8  # one offset per image, not one per batch


def test_random_crop_is_crop_at_of_crop_offsets():
    x = torch.rand(5, 3, 32, 32)
    a = random_crop(x, 28, 2, generator=torch.Generator().manual_seed(3))
    offsets = crop_offsets(
        5,
        (32, 32),
        size=28,
        padding=2,
        generator=torch.Generator().manual_seed(3),
    )
    assert offsets.shape == (2, 5) and offsets.max() <= 36 - 28
    assert torch.equal(a, crop_at(x, offsets, 2, 28))
    b = random_crop(x, 28, 2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"size": 48}, ValueError, "cannot cut 48x48 crops from 32x32"),
        ({"size": 41}, ValueError, "size must be at most 40"),
        ({"size": 0}, ValueError, "size must be an int >= 1, got 0"),
        ({"size": -4}, ValueError, "size must be an int >= 1, got -4"),
        (
            {"size": True},
            TypeError,
            r"size must be an int >= \d, got .*\(bool\)",
        ),
        (
            {"size": 31.5},
            TypeError,
            r"size must be an int >= \d, got .*\(float\)",
        ),
        ({"padding": -1}, ValueError, "padding must be an int >= 0, got -1"),
        (
            {"padding": True},
            TypeError,
            r"padding must be an int >= \d, got .*\(bool\)",
        ),
        (
            {"padding": 2.0},
            TypeError,
            r"padding must be an int >= \d, got .*\(float\)",
        ),
        ({"generator": "seed"}, TypeError, "must be a torch.Generator"),
    ],
)
def test_random_crop_refuses_bad_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        random_crop(torch.rand(4, 3, 32, 32), **kwargs)


@pytest.mark.parametrize("x", [torch.rand(3, 32, 32), np.zeros((1, 3, 8, 8))])
def test_random_crop_needs_a_batch_tensor(x):
    with pytest.raises(ValueError, match=r"batch \(N, C, H, W\)"):
        random_crop(x)


def test_generator_is_keyword_only_in_random_crop():
    with pytest.raises(TypeError):
        random_crop(torch.rand(2, 3, 32, 32), 32, 4, torch.Generator())


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


LABELS = torch.tensor([0, 3, 9, 1])


@pytest.mark.parametrize(
    "args, kwargs, error, fragment",
    [
        (
            (LABELS, 1.5),
            {},
            ValueError,
            r"fraction must be a finite number in \[0, 1\]",
        ),
        ((LABELS, -0.1), {}, ValueError, r"in \[0, 1\], got -0.1"),
        ((LABELS, float("nan")), {}, ValueError, r"in \[0, 1\], got nan"),
        ((LABELS, True), {}, TypeError, "fraction must be a real number"),
        ((LABELS, "0.5"), {}, TypeError, "fraction must be a real number"),
        (
            (LABELS, 0.5),
            {"num_classes": 0},
            ValueError,
            "num_classes must be an int >= 1, got 0",
        ),
        ((LABELS, 0.5), {"num_classes": -2}, ValueError, "got -2"),
        (
            (LABELS, 0.5),
            {"num_classes": True},
            TypeError,
            r"got True \(bool\)",
        ),
        (
            (LABELS, 0.5),
            {"num_classes": 5},
            ValueError,
            r"labels must lie in 0..4 \(num_classes=5\), got values 0..9",
        ),
        ((LABELS.float(), 0.5), {}, ValueError, "1-D integer tensor"),
        ((LABELS[None], 0.5), {}, ValueError, "1-D integer tensor"),
        (([0, 1], 0.5), {}, ValueError, "1-D integer tensor"),
    ],
)
def test_corrupt_labels_refuses_bad_arguments(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        corrupt_labels(*args, **kwargs)


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


def test_older_single_hash_cache_in_the_folder_is_replaced(
    tmp_path, small_cifar
):
    root = make_image_folder(tmp_path)
    (root / "hwlib-cifar10-0123456789abcdef.pt").write_bytes(b"old")
    load_cifar10(root)
    assert len(caches(root)) == 1
    assert "0123456789abcdef" not in caches(root)[0]


def test_stale_caches_go_on_a_cache_hit_too(tmp_path, small_cifar):
    root = make_image_folder(tmp_path)
    load_cifar10(root)
    (keep,) = caches(root)
    stale = root / (keep[:22] + "-0000000000000000.pt")
    stale.write_bytes(b"old contents")
    assert "cached" in load_cifar10(root).source
    assert caches(root) == [keep]
