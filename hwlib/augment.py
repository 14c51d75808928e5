"""Data augmentation on the device: random crops and flips of image batches
(seed 000 Q14, and the CNN recipe of seed 004 §6).

Every function takes a batch (N, C, H, W) on any device and draws its
random numbers there, from `generator` (which must live on that device);
no per-image Python. Crops follow torchvision's RandomCrop(size,
padding=p): zero-pad each side by p, then cut a window at a uniformly drawn
offset.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _validate

CROP_PADDING = 4
"""Zero padding of the standard CIFAR-10 random crop (each side, pixels)."""


def _batch(name: str, x) -> Tensor:
    """x as a batch of images (N, C, H, W), any dtype."""
    x = _validate.tensor(name, x, shape="(N, C, H, W)", what="a batch")
    hint = _validate.channels_last_hint(x)
    if hint:  # (N, 32, 32, 3) would pad and crop the channel axis
        raise ValueError(
            f"{name} must be a batch (N, C, H, W), got shape "
            f"{tuple(x.shape)}{hint}"
        )
    return x


def crop_offsets(
    n: int,
    image_size: tuple[int, int],
    *,
    size: int | tuple[int, int] | None = None,
    padding: int = CROP_PADDING,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Random crop positions for n images: (2, n) int64, rows then columns.

    For images of size H x W, zero-padded by p on each side, and crops of
    size h x w, row offsets are uniform in [0, H + 2p - h], drawn first,
    then the column offsets, uniform in [0, W + 2p - w]. size None means
    the image's own size; device None means the CPU; `generator` must live
    on `device`.
    """
    n = _validate.integer("n", n, minimum=0)
    _validate.allocation("crop_offsets", 2 * n)
    height, width = _validate.int_pair("image_size", image_size)
    crop_h, crop_w = _crop_size(size, (height, width), padding)
    device = _validate.device(device)
    _validate.generator(generator, device)
    top = torch.randint(
        0,
        height + 2 * padding - crop_h + 1,
        (n,),
        generator=generator,
        device=device,
    )
    left = torch.randint(
        0,
        width + 2 * padding - crop_w + 1,
        (n,),
        generator=generator,
        device=device,
    )
    return torch.stack([top, left])


def _crop_size(size, image_size, padding) -> tuple[int, int]:
    """(h, w) of the crops: size None -> the image's size, an int s -> (s, s),
    a pair (h, w) as given; each at most the padded image's side."""
    padding = _validate.integer("padding", padding, minimum=0)
    height, width = image_size
    if size is None:
        return height, width
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(
                f"size must be None, an int or a pair (height, width), got "
                f"{size!r}"
            )
        crop = _validate.integers("size", size)
        names = ("size[0] (the crop height)", "size[1] (the crop width)")
    else:
        side = _validate.integer("size", size)
        crop = (side, side)
        names = ("size", "size")
    for name, want, have in zip(names, crop, (height, width)):
        bound = have + 2 * padding
        if want > bound:
            raise ValueError(
                f"cannot cut {crop[0]}x{crop[1]} crops from {height}x{width} "
                f"images with padding {padding}: {name} must be at most "
                f"{bound}, got {want}"
            )
    return crop


def _check_offsets(offsets, n: int, highest: tuple[int, int]) -> Tensor:
    """offsets: (2, n) integers, row i in [0, highest[i]]."""
    offsets = _validate.tensor("offsets", offsets, dtype="integer")
    if tuple(offsets.shape) != (2, n):
        turned = tuple(offsets.shape) == (n, 2)
        raise ValueError(
            f"offsets must be (2, N) = (2, {n}), rows then columns, got "
            f"shape {tuple(offsets.shape)}"
            + ("; transposed? use offsets.T" if turned else "")
        )
    for row, (axis, top) in enumerate(zip(("rows", "columns"), highest)):
        if n and (offsets[row].min() < 0 or offsets[row].max() > top):
            raise ValueError(
                f"offsets[{row}] ({axis}) must lie in [0, {top}] for these "
                f"sizes, got values {int(offsets[row].min())}.."
                f"{int(offsets[row].max())}"
            )
    return offsets


def crop_at(
    x: Tensor,
    offsets: Tensor,
    *,
    size: int | tuple[int, int] | None = None,
    padding: int = CROP_PADDING,
) -> Tensor:
    """Zero-pad x (N, C, H, W) by `padding` and cut, for image i, the window
    with top-left corner offsets[:, i] of the padded image:

        out[i, c, r, s] = padded[i, c, offsets[0, i] + r, offsets[1, i] + s]

    for 0 <= r < h, 0 <= s < w; size None means (h, w) = (H, W). offsets:
    (2, N) integers, offsets[0] in [0, H + 2p - h], offsets[1] in
    [0, W + 2p - w] (as `crop_offsets` draws them)."""
    n, c, h, w = _batch("x", x).shape
    crop_h, crop_w = _crop_size(size, (h, w), padding)
    highest = (h + 2 * padding - crop_h, w + 2 * padding - crop_w)
    padded_size = n * c * (h + 2 * padding) * (w + 2 * padding)
    _validate.allocation(f"the batch padded by {padding}", padded_size)
    offsets = _check_offsets(offsets, n, highest).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[0][:, None] + torch.arange(crop_h, device=x.device)
    cols = offsets[1][:, None] + torch.arange(crop_w, device=x.device)
    images = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    rows, cols = rows[:, None, :, None], cols[:, None, None, :]
    return padded[images, channels, rows, cols]


def random_crop(
    x: Tensor,
    size: int | tuple[int, int] | None = None,
    padding: int = CROP_PADDING,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pad a batch with zeros and cut one random window per image, on x's
    device.

    x: (N, C, H, W), any dtype; size None (the default) keeps H x W. Offsets
    are uniform in [0, H + 2 padding - h] along each axis, drawn from
    `generator` (which must live on x's device). This is the standard
    CIFAR-10 augmentation (torchvision's RandomCrop(32, padding=4)).
    """
    x = _batch("x", x)
    offsets = crop_offsets(
        len(x),
        x.shape[-2:],
        size=size,
        padding=padding,
        generator=generator,
        device=x.device,
    )
    return crop_at(x, offsets, size=size, padding=padding)


def random_flip(
    x: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """Mirror each image of x (N, C, H, W) left-right with probability 1/2
    (one draw per image, uniform in [0, 1), flipped when below 1/2)."""
    x = _batch("x", x)
    _validate.generator(generator, x.device)
    flip = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def shift_and_flip(
    x: Tensor, translate: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Random translation by up to `translate` pixels (zero fill) and a
    random flip: the CNN's augmentation.

    Each image is shifted by (dy, dx), each uniform in [-translate,
    translate] (`random_crop` with padding=translate), then mirrored
    left-right with probability 1/2 (`random_flip`); `generator` lives on
    x's device.
    """
    translate = _validate.integer("translate", translate, minimum=0)
    if translate:
        x = random_crop(x, padding=translate, generator=generator)
    return random_flip(x, generator=generator)


def crop_repeat_odds(offsets: int, draws: int) -> tuple[Fraction, Fraction]:
    """Exact odds for `draws` independent uniform draws among `offsets`
    crop positions (an image's crops over `draws` epochs):

        P(a position comes up twice) = 1 - m! / ((m - n)! m**n)
        E[distinct positions] = m (1 - (1 - 1/m)**n)

    with m = offsets and n = draws. The first is 1 when n > m; the second
    sums, over the positions, the chance that a position is drawn at least
    once. Returned as Fractions: (P(repeat), E[distinct]).
    """
    offsets = _validate.integer("offsets", offsets)
    draws = _validate.integer("draws", draws, minimum=0)
    all_differ = Fraction(math.perm(offsets, draws), offsets**draws)
    distinct = offsets * (1 - Fraction(offsets - 1, offsets) ** draws)
    return 1 - all_differ, distinct
