"""CIFAR-10 as whole tensors, and random-crop augmentation on the device (seed 000 Q9-Q15).

Where the data comes from, in order: the `root` argument, the environment variable
HWLIB_CIFAR10, the folder `data/`. Two layouts are read:

* torchvision's: `root/cifar-10-batches-py/` (downloaded there by torchvision when allowed);
* an image-folder tree: `root/train/<class>/*` and `root/test/<class>/*`, labels given by the
  class folders sorted by name (the layout of the offline JPEG copy of CIFAR-10).

A decoded image folder is cached next to the images (or in ~/.cache/hwlib when that folder is
read-only), so a second load is a single tensor file read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ENV_VAR = "HWLIB_CIFAR10"
DEFAULT_ROOT = "data"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass
class CIFAR10:
    """The whole dataset: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    classes: tuple[str, ...]
    source: str  # where it was read from, for the record


class DatasetError(RuntimeError):
    """CIFAR-10 is missing or broken; the message says where hwlib looked and what to do."""


def _how_to_get_it(root: Path) -> str:
    return (
        f"hwlib looked in {root.resolve()} (from the root argument, else ${ENV_VAR}, else ./{DEFAULT_ROOT}).\n"
        f"Either let torchvision download it there: load_cifar10('{root}', download=True) on a machine with "
        f"internet, or point ${ENV_VAR} (or root=...) at a folder holding cifar-10-batches-py/ or "
        f"train/<class>/ and test/<class>/ image folders."
    )


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The folder to read: the argument, else $HWLIB_CIFAR10, else data/."""
    return Path(root if root is not None else os.environ.get(ENV_VAR) or DEFAULT_ROOT)


def load_cifar10(root: str | os.PathLike | None = None, download: bool | None = None) -> CIFAR10:
    """Load all of CIFAR-10 as tensors.

    Args:
        root: the folder (see the module docstring for the default and the layouts).
        download: let torchvision download the original when neither layout is present.
            None (the default) downloads only into the default folder data/, never into a
            folder that was named explicitly.

    Raises:
        DatasetError: nothing usable was found (or downloading failed), or the data fail the
            integrity checks (ten classes, 32x32 RGB, 50,000 + 10,000 images).
    """
    explicit = root is not None or bool(os.environ.get(ENV_VAR))
    root = resolve_root(root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        data = _load_image_folder(root)
    elif (root / "cifar-10-batches-py").is_dir() or download or (download is None and not explicit):
        data = _load_torchvision(root, download=bool(download or (download is None and not explicit)))
    else:
        raise DatasetError(f"No CIFAR-10 found in {root}.\n" + _how_to_get_it(root))
    _check_integrity(data, root)
    return data


def _load_torchvision(root: Path, download: bool) -> CIFAR10:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    try:
        splits = [TorchvisionCIFAR10(str(root), train=train, download=download) for train in (True, False)]
    except Exception as err:  # torchvision raises RuntimeError for missing files, URLError offline
        raise DatasetError(f"Could not read or download CIFAR-10 ({type(err).__name__}: {err}).\n" + _how_to_get_it(root)) from err
    (tx, ty), (vx, vy) = [(torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(s.targets)) for s in splits]
    return CIFAR10(tx, ty, vx, vy, tuple(splits[0].classes), f"torchvision layout in {root}")


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _image_files(root: Path, classes: list[str]) -> dict[str, list[tuple[Path, int]]]:
    files = {}
    for split in SPLIT_SIZES:
        split_classes = _class_folders(root / split)
        if split_classes != classes:
            raise DatasetError(f"{root / split} has class folders {split_classes}, but {root / 'train'} has {classes}.")
        files[split] = [
            (path, label)
            for label, name in enumerate(classes)
            for path in sorted((root / split / name).iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES
        ]
    return files


def _cache_path(root: Path, files: dict[str, list[tuple[Path, int]]]) -> Path:
    """A cache file keyed by the folder and by every image's name, size and modification time."""
    digest = hashlib.sha256(str(root.resolve()).encode())
    for split, items in files.items():
        for path, label in items:
            stat = path.stat()
            digest.update(f"{split}/{path.name}/{label}/{stat.st_size}/{stat.st_mtime_ns}".encode())
    name = f"hwlib-cifar10-{digest.hexdigest()[:16]}.pt"
    return (root / name) if os.access(root, os.W_OK) else Path.home() / ".cache" / "hwlib" / name


def _decode(paths: list[Path]) -> Tensor:
    from PIL import Image

    def read(path: Path) -> np.ndarray:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))

    arrays = [read(path) for path in paths]
    shapes = {a.shape for a in arrays}
    if shapes != {(32, 32, 3)}:
        raise DatasetError(f"CIFAR-10 images must be 32x32 RGB; found sizes {sorted(shapes)} under {paths[0].parents[1]}")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _load_image_folder(root: Path) -> CIFAR10:
    classes = tuple(_class_folders(root / "train"))
    files = _image_files(root, list(classes))
    cache = _cache_path(root, files)
    if cache.exists():
        return CIFAR10(**torch.load(cache, weights_only=True), classes=classes, source=f"image folders in {root} (cached)")
    tensors = {}
    for split, items in files.items():
        if not items:
            raise DatasetError(f"No images found under {root / split}/<class>/.")
        tensors[f"{split}_x"] = _decode([p for p, _ in items])
        tensors[f"{split}_y"] = torch.tensor([label for _, label in items], dtype=torch.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tensors, cache)
    return CIFAR10(**tensors, classes=classes, source=f"image folders in {root}")


def _check_integrity(data: CIFAR10, root: Path) -> None:
    problems = []
    if len(data.classes) != 10:
        problems.append(f"{len(data.classes)} classes instead of 10: {list(data.classes)}")
    for split, n in SPLIT_SIZES.items():
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if tuple(x.shape) != (n, 3, 32, 32) or x.dtype != torch.uint8:
            problems.append(f"{split} images are {tuple(x.shape)} {x.dtype}, expected ({n}, 3, 32, 32) uint8")
        if tuple(y.shape) != (n,) or (len(y) and (y.min() < 0 or y.max() > 9)):
            problems.append(f"{split} labels are {tuple(y.shape)}, expected ({n},) with values 0..9")
    if problems:
        raise DatasetError(f"CIFAR-10 in {root} looks broken: " + "; ".join(problems) + ".\n" + _how_to_get_it(root))


def random_crop(x: Tensor, size: int = 32, padding: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """Pad a batch with zeros and cut one random size x size window per image, on x's device.

    x: (N, C, H, W), any dtype. Offsets are uniform in [0, H + 2 padding - size] along each axis,
    drawn from `generator` (which must live on x's device). This is the standard CIFAR-10
    augmentation (torchvision's RandomCrop(32, padding=4)); the homework's own notebook, which
    specifies the crop, is not public.
    """
    if x.ndim != 4:
        raise ValueError(f"random_crop expects a batch (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if padding < 0 or size < 1 or size > h + 2 * padding or size > w + 2 * padding:
        raise ValueError(f"cannot cut {size}x{size} crops from {h}x{w} images with padding {padding}")
    padded = F.pad(x, (padding, padding, padding, padding))
    top = torch.randint(0, h + 2 * padding - size + 1, (n,), generator=generator, device=x.device)
    left = torch.randint(0, w + 2 * padding - size + 1, (n,), generator=generator, device=x.device)
    steps = torch.arange(size, device=x.device)
    rows = (top[:, None] + steps)[:, None, :, None]  # (N, 1, size, 1)
    cols = (left[:, None] + steps)[:, None, None, :]  # (N, 1, 1, size)
    images = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[images, channels, rows, cols]


def corrupt_labels(labels: Tensor, fraction: float, num_classes: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """A copy of `labels` with round(fraction * N) of them, chosen at random, replaced at random.

    Each chosen label is replaced by a class drawn uniformly from all `num_classes` (so about
    1/num_classes of the replacements happen to equal the true label), as in the label-noise
    experiments of Zhang et al. (2017). `generator` must live on the labels' device.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    noisy = labels.clone()
    chosen = torch.randperm(len(labels), generator=generator, device=labels.device)[: round(fraction * len(labels))]
    noisy[chosen] = torch.randint(0, num_classes, (len(chosen),), generator=generator, device=labels.device)
    return noisy
