import time

import numpy as np
import pytest
import torch
from PIL import Image

from hwlib import data as hwdata
from hwlib.data import CLASSES, DatasetError, load_cifar10, random_crop, resolve_root


def make_image_folder(root, per_class=2, size=32, classes=CLASSES):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return root


def test_missing_dataset_error_names_folder_variable_and_download(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_cifar10(tmp_path / "nowhere")
    message = str(err.value)
    assert str((tmp_path / "nowhere").resolve()) in message and "$HWLIB_CIFAR10" in message and "download=True" in message


def test_broken_torchvision_folder_is_reported(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DatasetError, match="Could not read or download CIFAR-10"):
        load_cifar10(tmp_path, download=False)


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv("HWLIB_CIFAR10", raising=False)
    assert str(resolve_root()) == "data"
    monkeypatch.setenv("HWLIB_CIFAR10", str(tmp_path))
    assert resolve_root() == tmp_path
    assert str(resolve_root("elsewhere")) == "elsewhere"


def test_image_folder_decoding_labels_and_cache(tmp_path):
    root = make_image_folder(tmp_path)
    first = hwdata._load_image_folder(root)
    assert first.train_x.shape == (20, 3, 32, 32) and first.train_x.dtype == torch.uint8
    assert first.train_y.tolist() == [label for label in range(10) for _ in range(2)]  # sorted class folders
    png = np.array(Image.open(root / "train" / "bird" / "0001.png"))
    assert torch.equal(first.train_x[5], torch.from_numpy(png).permute(2, 0, 1))  # bird = label 2, second image
    second = hwdata._load_image_folder(root)
    assert "cached" in second.source and torch.equal(second.train_x, first.train_x)
    (root / "train" / "bird" / "0001.png").unlink()  # a changed folder invalidates the cache
    assert "cached" not in hwdata._load_image_folder(root).source


def test_integrity_checks(tmp_path):
    with pytest.raises(DatasetError, match=r"train images are \(20, 3, 32, 32\).*expected \(50000, 3, 32, 32\)"):
        load_cifar10(make_image_folder(tmp_path / "small"))
    with pytest.raises(DatasetError, match="must be 32x32 RGB"):
        load_cifar10(make_image_folder(tmp_path / "big", size=16))
    with pytest.raises(DatasetError, match="3 classes instead of 10"):
        load_cifar10(make_image_folder(tmp_path / "few", classes=("a", "b", "c")))


def test_random_crop_cuts_windows_of_the_zero_padded_image(device):
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randint(1, 256, (16, 3, 32, 32), dtype=torch.uint8, device=device, generator=g)
    crops = random_crop(x, generator=g)
    assert crops.shape == x.shape and crops.dtype == x.dtype and crops.device == x.device
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(len(x)):  # brute force: the crop equals exactly one window of the padded image
        matches = [(t, l) for t in range(9) for l in range(9) if torch.equal(padded[i, :, t : t + 32, l : l + 32], crops[i])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 8  # one offset per image, not one per batch


def test_random_crop_is_seeded_and_validates():
    x = torch.rand(4, 3, 32, 32)
    a = random_crop(x, generator=torch.Generator().manual_seed(3))
    b = random_crop(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match=r"batch \(N, C, H, W\)"):
        random_crop(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="cannot cut 48x48 crops"):
        random_crop(x, size=48)


@pytest.mark.slow
def test_real_cifar10_loads_and_second_load_is_fast(cifar_root):
    data = load_cifar10(cifar_root)
    assert data.classes == CLASSES
    assert data.train_x.shape == (50000, 3, 32, 32) and data.test_x.shape == (10000, 3, 32, 32)
    assert data.train_y.bincount().tolist() == [5000] * 10 and data.test_y.bincount().tolist() == [1000] * 10
    start = time.perf_counter()
    again = load_cifar10(cifar_root)
    assert time.perf_counter() - start < 2.0
    assert torch.equal(again.test_x, data.test_x)


def test_corrupt_labels_replaces_the_requested_fraction(device):
    from hwlib.data import corrupt_labels

    g = torch.Generator(device=device).manual_seed(0)
    labels = torch.randint(0, 10, (10000,), device=device, generator=g)
    noisy = corrupt_labels(labels, 0.4, generator=g)
    changed = (noisy != labels).float().mean().item()
    assert abs(changed - 0.4 * 0.9) < 0.02  # a tenth of the replacements hit the true label again
    assert noisy.min() >= 0 and noisy.max() <= 9 and noisy.dtype == labels.dtype
    assert torch.equal(corrupt_labels(labels, 0.0, generator=g), labels)
    assert torch.equal(labels, labels.clone())  # the input is not modified
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        corrupt_labels(labels, 1.5)
