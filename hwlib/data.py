"""CIFAR-10 as whole tensors on a device, and label noise (seed 000 Q9-Q15,
004 §5); random crops are in `hwlib.augment`.

Where the data come from, in order: the `root` argument, $HWLIB_CIFAR10,
the folder `data/` (`~` expanded; an empty variable counts as unset). Two
layouts are read:

* torchvision's: `root/cifar-10-batches-py/` (downloaded there by
  torchvision when allowed);
* an image-folder tree `root/train/<class>/*` and `root/test/<class>/*`
  with exactly CIFAR-10's ten class names (the layout of the offline JPEG
  copy); labels follow `CLASSES`. Hidden files are skipped; every image
  that cannot be read as 32x32 RGB is named in one error.

A decoded image folder is cached (`hwlib.cache`: atomic, damaged caches
rebuilt) next to the images, or in `hwlib.cache.cache_dir()` when that
folder is read-only; one cache per folder (when the images change, the
caches hwlib wrote for the folder's older contents are deleted), so a
second load is a single file read. Data that fail the checks are never
cached.

`DeviceData` holds the dataset on one device (uint8 images), with an
optional validation split. Random draws follow hwlib's one rule: a
generator lives on the device of the tensors it draws for.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import _validate
from .cache import (
    cache_dir,
    env_path,
    load_or_discard,
    remove_stale,
    save_atomic,
    unexpected,
)

CIFAR10_ENV_VAR = "HWLIB_CIFAR10"
DEFAULT_ROOT = "data"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASSES)
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass
class CIFAR10:
    """The whole dataset: uint8 images (N, 3, 32, 32), int64 labels (N,)."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    classes: tuple[str, ...]
    source: str  # where it was read from, for the record


# Per-channel statistics of the CIFAR-10 training images, in [0, 1] units.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def same_device(a: torch.device | str, b: torch.device | str) -> bool:
    """True when `a` and `b` name one device ('cuda' is 'cuda:0' on GPU 0)."""
    a, b = _validate.device(a), _validate.device(b)
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return a.index == b.index or None in (a.index, b.index)
    current = torch.cuda.current_device() if torch.cuda.is_available() else 0
    return (current if a.index is None else a.index) == (
        current if b.index is None else b.index
    )


def _check_images(name: str, x: object) -> None:
    x = _validate.tensor(name, x)
    if x.dtype != torch.uint8:
        hint = (
            " Images already scaled to [0, 1] would be divided by 255 a "
            "second time; convert them back with "
            "(x * 255).round().to(torch.uint8)."
            if x.is_floating_point()
            else ""
        )
        raise TypeError(
            f"{name} must hold uint8 images (0..255), got {x.dtype}.{hint}"
        )
    _validate.tensor(name, x, shape="(N, 3, H, W)", what="RGB images")


def _check_labels(name: str, y: object, n: int) -> None:
    y = _validate.tensor(name, y)
    if y.dtype != torch.int64 or tuple(y.shape) != (n,):
        raise ValueError(
            f"{name} must be int64 labels of shape ({n},), got {y.dtype} "
            f"{tuple(y.shape)}"
        )


@dataclass
class DeviceData:
    """CIFAR-10 on one device: uint8 images (N, 3, H, W), int64 labels (N,).

    `val_x`, `val_y` hold an optional validation split taken from the
    training images (see `with_validation`); None when there is none.
    """

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    val_x: Tensor | None = None
    val_y: Tensor | None = None

    def __post_init__(self) -> None:
        splits = [("train", self.train_x, self.train_y)]
        splits.append(("test", self.test_x, self.test_y))
        if (self.val_x is None) != (self.val_y is None):
            raise ValueError("give both val_x and val_y, or neither")
        if self.val_x is not None:
            splits.append(("val", self.val_x, self.val_y))
        for split, x, y in splits:
            _check_images(f"{split}_x", x)
            _check_labels(f"{split}_y", y, len(x))
            if not same_device(x.device, self.train_x.device) or not (
                same_device(y.device, x.device)
            ):
                raise ValueError(
                    f"all tensors must be on one device: train_x is on "
                    f"{self.train_x.device}, {split}_x on {x.device}, "
                    f"{split}_y on {y.device}"
                )
        if len(self.train_y) == 0:
            raise ValueError("train_x holds no images")

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    @classmethod
    def from_cifar(
        cls,
        data: CIFAR10,
        device: torch.device | str,
        *,
        train_size: int | None = None,
    ) -> DeviceData:
        """Move the dataset to `device`; `train_size` keeps that many
        training images chosen at random (seed 0), None keeps them all.

        (A random subset, not the first n: an image-folder copy is stored
        sorted by class.)
        """
        device = _validate.device(device)
        keep = slice(None)
        if train_size is not None:
            n = len(data.train_y)
            _validate.integer("train_size", train_size, maximum=n)
            g = torch.Generator().manual_seed(0)
            keep = torch.randperm(n, generator=g)[:train_size]
        tensors = (data.train_x[keep], data.train_y[keep])
        tensors += (data.test_x, data.test_y)
        return cls(*(t.to(device) for t in tensors))

    def with_validation(self, val_size: int, *, seed: int = 0) -> DeviceData:
        """A copy with `val_size` random training images moved into a
        held-out validation split (val_x, val_y); the test set is unchanged.

        The split is drawn on the CPU from `seed`, so it is the same on
        every device: with π a random permutation of the N training
        images, val = π[:val_size] and train = π[val_size:].
        """
        if self.val_x is not None:
            raise ValueError("this data already has a validation split")
        n = len(self.train_y)
        if n < 2:
            raise ValueError(
                f"a validation split needs at least 2 training images, "
                f"this data has {n}"
            )
        _validate.integer("val_size", val_size, maximum=n - 1)
        _validate.integer("seed", seed, minimum=0)
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=g).to(self.device)
        val, train = order[:val_size], order[val_size:]
        return DeviceData(
            self.train_x[train],
            self.train_y[train],
            self.test_x,
            self.test_y,
            self.train_x[val],
            self.train_y[val],
        )


class DatasetError(RuntimeError):
    """CIFAR-10 is missing or broken; the message says where hwlib looked
    and what to do."""


def _how_to_get_it(root: Path) -> str:
    return (
        f"hwlib looked in {root.resolve()} (from the root argument, else "
        f"${CIFAR10_ENV_VAR}, else ./{DEFAULT_ROOT}).\n"
        f"Either let torchvision download it there: "
        f"load_cifar10('{root}', download=True) on a machine with internet, "
        f"or point ${CIFAR10_ENV_VAR} (or root=...) at a folder holding "
        f"cifar-10-batches-py/ or train/<class>/ and test/<class>/ image "
        f"folders."
    )


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The folder to read: the argument, else $HWLIB_CIFAR10, else data/.

    `~` is expanded; an empty $HWLIB_CIFAR10 counts as unset.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(
                f"root must be a folder (a str or a path) or None, got "
                f"{root!r} ({type(root).__name__})"
            )
        if not str(root).strip():
            raise ValueError(
                "root must name a folder, got an empty string; pass None "
                f"to use ${CIFAR10_ENV_VAR} or ./{DEFAULT_ROOT}"
            )
        return Path(root).expanduser()
    return env_path(CIFAR10_ENV_VAR) or Path(DEFAULT_ROOT)


def load_cifar10(
    root: str | os.PathLike | None = None, *, download: bool | None = None
) -> CIFAR10:
    """Load all of CIFAR-10 as tensors.

    Args:
        root: the folder (see the module docstring for the default and the
            layouts).
        download: let torchvision download the original when neither layout
            is present. None (the default) downloads only into the default
            folder data/, and only when neither `root` nor $HWLIB_CIFAR10 is
            given (an empty $HWLIB_CIFAR10 does not download either).

    Raises:
        DatasetError: nothing usable was found (or downloading failed), or
            the data fail the integrity checks (CIFAR-10's ten class names,
            32x32 RGB, 50,000 + 10,000 images), or some images cannot be
            read (they are named). Nothing is cached for such data.
    """
    _validate.boolean("download", download, allow_none=True)
    explicit = root is not None or CIFAR10_ENV_VAR in os.environ
    root = resolve_root(root)
    if download is None:
        download = not explicit
    if (root / "train").is_dir() and (root / "test").is_dir():
        return _load_image_folder(root)
    if (root / "cifar-10-batches-py").is_dir() or download:
        data = _load_torchvision(root, download=download)
        _check_integrity(data, root)
        return data
    raise DatasetError(
        f"No CIFAR-10 found in {root}.\n" + _how_to_get_it(root)
    )


def _load_torchvision(root: Path, download: bool) -> CIFAR10:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    try:
        splits = [
            TorchvisionCIFAR10(str(root), train=train, download=download)
            for train in (True, False)
        ]
    except Exception as err:  # RuntimeError for missing files, URLError
        raise DatasetError(
            f"Could not read or download CIFAR-10 ({type(err).__name__}: "
            f"{err}).\n" + _how_to_get_it(root)
        ) from err
    tensors = [
        (
            torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(),
            torch.tensor(s.targets),
        )
        for s in splits
    ]
    (tx, ty), (vx, vy) = tensors
    source = f"torchvision layout in {root}"
    return CIFAR10(tx, ty, vx, vy, tuple(splits[0].classes), source)


def _visible(folder: Path) -> list[Path]:
    """The entries of `folder` whose names do not start with '.', sorted
    (hidden files such as macOS's ._0001.jpg are skipped)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _class_folders(folder: Path) -> list[str]:
    """The class folders under `folder`; exactly CIFAR-10's ten names."""
    names = {p.name for p in _visible(folder) if p.is_dir()}
    missing = [c for c in CLASSES if c not in names]
    extra = sorted(names - set(CLASSES))
    if missing or extra:
        raise DatasetError(
            f"{folder} must hold one folder per CIFAR-10 class "
            f"{list(CLASSES)}; missing: {missing or 'none'}; "
            f"extra: {extra or 'none'}."
        )
    return list(CLASSES)


def _image_files(root: Path) -> dict[str, list[tuple[Path, int]]]:
    """(path, label) of every image, per split; labels in CLASSES order.

    Files with other suffixes are skipped; an entry with an image suffix
    that is not a file (a folder named x.jpg) is refused by name.
    """
    files, odd = {}, []
    for split in SPLIT_SIZES:
        files[split] = []
        for label, name in enumerate(_class_folders(root / split)):
            for path in _visible(root / split / name):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                if not path.is_file():
                    odd.append(path)
                else:
                    files[split].append((path, label))
    if odd:
        raise DatasetError(
            _listing("These have an image name but are not files", odd)
        )
    for split, items in files.items():
        if not items:
            raise DatasetError(
                f"No images found under {root / split}/<class>/."
            )
    return files


MAX_NAMED = 5  # how many bad files an error names before "and N more"


def _listing(what: str, problems: list) -> str:
    lines = [f"  {p}" for p in problems[:MAX_NAMED]]
    if len(problems) > MAX_NAMED:
        lines.append(f"  ... and {len(problems) - MAX_NAMED} more")
    return f"{what} ({len(problems)}):\n" + "\n".join(lines)


def _cache_path(root: Path, files: dict[str, list[tuple[Path, int]]]) -> Path:
    """hwlib-cifar10-<folder>-<contents>.pt: keyed by the folder and by every
    image's name, label, size and modification time."""
    folder = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    digest = hashlib.sha256()
    for split, items in files.items():
        for path, label in items:
            stat = path.stat()
            digest.update(
                f"{split}/{path.name}/{label}/{stat.st_size}/"
                f"{stat.st_mtime_ns}".encode()
            )
    name = f"hwlib-cifar10-{folder}-{digest.hexdigest()[:16]}.pt"
    return (root if os.access(root, os.W_OK) else cache_dir()) / name


def _read_image(path: Path) -> np.ndarray:
    """One 32x32 RGB image as (32, 32, 3) uint8; ValueError saying why not."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode != "RGB":
            raise ValueError(f"mode {image.mode}, expected RGB")
        if image.size != (32, 32):
            w, h = image.size
            raise ValueError(f"{w}x{h} pixels, expected 32x32")
        return np.asarray(image.convert("RGB"))


def _decode(files: dict[str, list[tuple[Path, int]]]) -> dict[str, Tensor]:
    """{split}_x (N, 3, 32, 32) uint8 and {split}_y (N,) int64 per split;
    every unreadable image (of both splits) is named in one error."""
    tensors, bad = {}, []
    for split, items in files.items():
        arrays = []
        for path, _ in items:
            try:
                arrays.append(_read_image(path))
            except Exception as err:  # PIL raises OSError, ValueError, ...
                bad.append(f"{path}: {type(err).__name__}: {err}")
        if not bad:
            stacked = torch.from_numpy(np.stack(arrays))
            tensors[f"{split}_x"] = stacked.permute(0, 3, 1, 2).contiguous()
            labels = [label for _, label in items]
            tensors[f"{split}_y"] = torch.tensor(labels, dtype=torch.int64)
    if bad:
        raise DatasetError(
            _listing("These cannot be read as 32x32 RGB images", bad)
            + "\nReplace or delete them; nothing was cached."
        )
    return tensors


def _from_cache(cache: Path, classes: tuple[str, ...], root: Path):
    tensors = load_or_discard(cache)
    keys = {"train_x", "train_y", "test_x", "test_y"}
    if tensors is None:
        return None
    if not isinstance(tensors, dict) or set(tensors) != keys:
        unexpected(cache, f"not a dict of {sorted(keys)}")
        return None
    source = f"image folders in {root} (cached)"
    return CIFAR10(**tensors, classes=classes, source=source)


def _load_image_folder(root: Path) -> CIFAR10:
    """Decode root/{train,test}/<class>/* (or read its cache), check it,
    and cache it (one cache per folder; stale ones are removed)."""
    files = _image_files(root)
    cache = _cache_path(root, files)
    data = _from_cache(cache, CLASSES, root)
    family = "cifar10/" + cache.name[:22]  # one family per folder
    if data is not None:
        try:
            _check_integrity(data, root)
            remove_stale(cache.parent, cache, family.__eq__)
            return data
        except DatasetError as error:
            unexpected(cache, str(error).splitlines()[0])
    tensors = _decode(files)
    source = f"image folders in {root}"
    data = CIFAR10(**tensors, classes=CLASSES, source=source)
    _check_integrity(data, root)  # nothing is cached for broken data
    if save_atomic(tensors, cache, family=family):
        # the folder's older caches: hwlib wrote them for other contents
        remove_stale(cache.parent, cache, family.__eq__)
    return data


def _check_integrity(data: CIFAR10, root: Path) -> None:
    problems = []
    if tuple(data.classes) != CLASSES:
        problems.append(
            f"classes {list(data.classes)} instead of {list(CLASSES)}"
        )
    for split, n in SPLIT_SIZES.items():
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if tuple(x.shape) != (n, 3, 32, 32) or x.dtype != torch.uint8:
            problems.append(
                f"{split} images are {tuple(x.shape)} {x.dtype}, expected "
                f"({n}, 3, 32, 32) uint8"
            )
        bad_range = len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES)
        if tuple(y.shape) != (n,) or bad_range:
            problems.append(
                f"{split} labels are {tuple(y.shape)}, expected ({n},) "
                f"with values 0..{NUM_CLASSES - 1}"
            )
    if problems:
        raise DatasetError(
            f"CIFAR-10 in {root} looks broken: "
            + "; ".join(problems)
            + ".\n"
            + _how_to_get_it(root)
        )


def corrupt_labels(
    labels: Tensor,
    fraction: float,
    *,
    num_classes: int = NUM_CLASSES,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A copy of `labels` with round(fraction * N) of them, chosen at random,
    replaced at random.

    Each chosen label is replaced by a class drawn uniformly from all
    `num_classes` (so about 1/num_classes of the replacements happen to
    equal the true label, and a fraction fraction * (1 - 1/num_classes) of
    the labels changes), as in the label-noise experiments of Zhang et al.
    (2017). `generator` must live on the labels' device.
    """
    labels = _validate.tensor("labels", labels, shape="(N,)", dtype="integer")
    fraction = _validate.real("fraction", fraction, low=0, high=1)
    _validate.integer("num_classes", num_classes)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} (num_classes="
            f"{num_classes}), got values {int(labels.min())}.."
            f"{int(labels.max())}"
        )
    _validate.generator(generator, labels.device)
    noisy = labels.clone()
    count = round(fraction * len(labels))
    order = torch.randperm(
        len(labels), generator=generator, device=labels.device
    )
    chosen = order[:count]
    noisy[chosen] = torch.randint(
        0,
        num_classes,
        (count,),
        generator=generator,
        device=labels.device,
        dtype=labels.dtype,
    )
    return noisy


def check_data(
    data,
    *,
    classes: int = NUM_CLASSES,
    classes_from: str = "CIFAR-10 has 10 classes",
    image_size: tuple[int, int] | None = None,
) -> DeviceData:
    """`data` as the trainers need it: a DeviceData whose every split holds
    images (uint8 (N, 3, H, W), with (H, W) = image_size when given) and
    int64 labels in [0, classes); `classes_from` says, in errors, where
    `classes` comes from. Checked again here because a DeviceData's fields
    can be replaced after it was made."""
    if not isinstance(data, DeviceData):
        raise TypeError(
            f"data must be a hwlib.data.DeviceData, got {type(data).__name__}"
        )
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if y is None:
            continue
        _check_images(f"data.{split}_x", x)
        _check_labels(f"data.{split}_y", y, len(x))
        if len(y) == 0:
            raise ValueError(
                f"data.{split}_x is empty; training evaluates every split"
            )
        if image_size is not None and tuple(x.shape[2:]) != image_size:
            raise ValueError(
                f"data.{split}_x must be uint8 images (N, 3, "
                f"{image_size[0]}, {image_size[1]}), got {x.dtype} "
                f"{tuple(x.shape)}"
            )
        lo, hi = (int(v) for v in torch.aminmax(y))
        if lo < 0 or hi >= classes:
            raise ValueError(
                f"data.{split}_y must hold class indices 0..{classes - 1} "
                f"({classes_from}), got values {lo}..{hi}"
            )
    return data
