import numpy as np
import pytest
import torch

from hwlib.augment import (
    CROP_PADDING,
    crop_at,
    crop_offsets,
    crop_repeat_odds,
    random_crop,
    random_flip,
    shift_and_flip,
)
from hwlib.data import same_device


def test_crop_padding_is_the_standard_four():
    assert CROP_PADDING == 4


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
    assert torch.equal(a, crop_at(x, offsets, size=28, padding=2))
    b = random_crop(x, 28, 2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "image_size, size, padding",
    [((32, 32), None, 4), ((8, 16), (6, 10), 2), ((5, 3), 3, 1)],
    ids=["32x32 default", "8x16 cut 6x10 padding 2", "5x3 cut 3 padding 1"],
)
def test_crop_offsets_are_uniform_over_every_shift(image_size, size, padding):
    """Each axis takes every value 0..H + 2p - h (0..2p for crops of the
    image's size), each about equally often; counted over 20,000 draws
    (fixed seed). Rows follow the height, columns the width."""
    n = 20_000
    g = torch.Generator().manual_seed(0)
    offsets = crop_offsets(
        n, image_size, size=size, padding=padding, generator=g
    )
    assert offsets.shape == (2, n) and offsets.dtype == torch.int64
    crop = image_size if size is None else size
    crop = (crop, crop) if isinstance(crop, int) else crop
    for axis in range(2):
        shifts = image_size[axis] + 2 * padding - crop[axis] + 1
        counts = torch.bincount(offsets[axis], minlength=shifts)
        assert len(counts) == shifts  # no offset beyond the last shift
        expected = n / shifts  # the spread is about sqrt(expected)
        assert (counts - expected).abs().max() < 0.1 * expected, counts


def test_crop_bounds_follow_each_axis_of_non_square_images():
    x = torch.rand(2, 3, 8, 16)  # padded: 16 x 24
    assert random_crop(x, (16, 24)).shape == (2, 3, 16, 24)


def test_crops_keep_the_image_size_by_default():
    """random_crop, crop_at and crop_offsets all default to the image's own
    size and to CROP_PADDING, for any image size (here 8x8)."""
    x = torch.rand(3, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    assert random_crop(x, generator=g).shape == x.shape
    offsets = crop_offsets(3, (8, 8), generator=g)
    assert offsets.max() <= 2 * CROP_PADDING
    assert crop_at(x, offsets).shape == x.shape
    a = random_crop(x, generator=torch.Generator().manual_seed(1))
    b = random_crop(x, 8, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_shift_and_flip_flips_or_keeps_each_image():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    out = shift_and_flip(x, 2, generator=g)
    assert out.shape == x.shape and out.dtype == x.dtype
    # translate=0: each image is either itself or its mirror image
    out = shift_and_flip(x, 0, generator=g)
    flipped = [torch.equal(a, b.flip(2)) for a, b in zip(out, x)]
    kept = [torch.equal(a, b) for a, b in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)


# --- arguments refused by name ---


X8x16 = torch.rand(2, 3, 8, 16)  # padded: 16 x 24
IMAGES = torch.zeros(2, 3, 8, 8)
OFFSETS = torch.zeros(2, 2, dtype=torch.long)


def crop(**kwargs):
    return random_crop(torch.rand(4, 3, 32, 32), **kwargs)


# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("random_crop: padding 10**6 (a 48 TB padded batch)", lambda: random_crop(IMAGES, padding=10**6),
        ValueError, "the batch padded by 1000000 would have"),
    ("random_crop: channels-last batch (cropped the channel axis)", lambda: random_crop(torch.zeros(2, 32, 32, 3)),
        ValueError, "x must be a batch (N, C, H, W), got shape (2, 32, 32, 3) (channels-last? use x.permute(0, 3, 1, 2)"),
    ("shift_and_flip: channels-last batch", lambda: shift_and_flip(torch.zeros(2, 32, 32, 3), 2),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("random_flip: channels-last batch", lambda: random_flip(torch.zeros(2, 32, 32, 3)),
        ValueError, "channels-last? use x.permute(0, 3, 1, 2)"),
    ("crop_at: negative offsets (wrapped around)", lambda: crop_at(IMAGES, torch.tensor([[-1, 0], [0, 0]])),
        ValueError, "offsets[0] (rows) must lie in [0, 8] for these sizes, got values -1..0"),
    ("crop_at: offsets past the padded image", lambda: crop_at(IMAGES, torch.tensor([[0, 0], [0, 9]])),
        ValueError, "offsets[1] (columns) must lie in [0, 8] for these sizes, got values 0..9"),
    ("crop_at: transposed offsets", lambda: crop_at(torch.zeros(3, 3, 8, 8), torch.zeros(3, 2, dtype=torch.long)),
        ValueError, "offsets must be (2, N) = (2, 3), rows then columns, got shape (3, 2); transposed? use offsets.T"),
    ("crop_at: float offsets", lambda: crop_at(IMAGES, OFFSETS.float()),
        TypeError, "offsets must be an integer tensor, got torch.float32"),
    ("crop_at: offsets a list", lambda: crop_at(IMAGES, [[0, 0], [0, 0]]),
        TypeError, "offsets must be an integer tensor, got list"),
    ("crop_offsets: a billion images", lambda: crop_offsets(10**9, (32, 32)),
        ValueError, "more than hwlib's limit"),
    ("crop_offsets: image_size an int triple", lambda: crop_offsets(2, (32, 32, 3)),
        TypeError, "image_size must be an int or a pair of ints, got (32, 32, 3)"),
    ("shift_and_flip: negative translate", lambda: shift_and_flip(IMAGES, -1),
        ValueError, "translate must be an int >= 0, got -1"),
    ("shift_and_flip: generator positional", lambda: shift_and_flip(IMAGES, 2, torch.Generator()),
        TypeError, "positional argument"),
    ("crop_offsets: generator an int", lambda: crop_offsets(2, (32, 32), generator=0),
        TypeError, "generator must be a torch.Generator or None, got int"),
    ("crop_offsets: a CPU generator for CUDA (checked before drawing)", lambda: crop_offsets(2, (32, 32), generator=torch.Generator(), device="cuda"),
        ValueError, "generator is on cpu but draws tensors on cuda"),
    ("crop_offsets: unknown device", lambda: crop_offsets(2, (32, 32), device="gpu"),
        ValueError, "device must be a torch.device or a name"),
    ("random_crop: larger than the padded image", lambda: crop(size=48),
        ValueError, "cannot cut 48x48 crops from 32x32 images with padding 4: size must be at most 40, got 48"),
    ("random_crop: one pixel too large", lambda: crop(size=41),
        ValueError, "size must be at most 40, got 41"),
    ("random_crop: too wide", lambda: crop(size=(30, 41)),
        ValueError, "size[1] (the crop width) must be at most 40, got 41"),
    ("random_crop: too high", lambda: crop(size=(41, 30)),
        ValueError, "size[0] (the crop height) must be at most 40, got 41"),
    ("random_crop: a triple", lambda: crop(size=(4, 4, 1)),
        ValueError, "size must be None, an int or a pair (height, width), got (4, 4, 1)"),
    ("random_crop: a float height", lambda: crop(size=(4.0, 4)),
        TypeError, "size[0] must be an int >= 1, got 4.0 (float)"),
    ("random_crop: size a string", lambda: crop(size="32"),
        TypeError, "size must be an int >= 1, got '32' (str)"),
    ("random_crop: size 0", lambda: crop(size=0),
        ValueError, "size must be an int >= 1, got 0"),
    ("random_crop: negative padding", lambda: crop(padding=-1),
        ValueError, "padding must be an int >= 0, got -1"),
    ("random_crop: padding a float", lambda: crop(padding=2.0),
        TypeError, "padding must be an int >= 0, got 2.0 (float)"),
    ("random_crop: generator a string", lambda: crop(generator="seed"),
        TypeError, "generator must be a torch.Generator or None, got str"),
    ("random_crop: generator positional", lambda: random_crop(torch.rand(2, 3, 32, 32), 32, 4, torch.Generator()),
        TypeError, "positional argument"),
    ("crop_at: size positional", lambda: crop_at(torch.rand(2, 3, 8, 8), torch.zeros(2, 2, dtype=torch.long), 4),
        TypeError, "positional argument"),
    ("random_crop: one image, no batch", lambda: random_crop(torch.rand(3, 32, 32)),
        ValueError, "x must be a batch (N, C, H, W), got shape (3, 32, 32)"),
    ("random_crop: a numpy batch", lambda: random_crop(np.zeros((1, 3, 8, 8))),
        TypeError, "x must be a batch (N, C, H, W), got ndarray"),
    ("random_crop: too wide for a non-square image", lambda: random_crop(X8x16, (8, 30)),
        ValueError, "size[1] (the crop width) must be at most 24, got 30"),
    ("random_crop: too high for a non-square image", lambda: random_crop(X8x16, (17, 8)),
        ValueError, "size[0] (the crop height) must be at most 16, got 17"),
    ("random_crop: an int crop is square, the shorter side bounds", lambda: random_crop(X8x16, 20),
        ValueError, "size must be at most 16, got 20"),
]
# fmt: on


def test_bad_inputs_are_refused_with_clear_errors(refused, bad_input):
    refused(*bad_input)


# --- odds of a repeated crop ---


@pytest.mark.parametrize("offsets, draws", [(3, 3), (4, 2), (2, 3), (5, 1)])
def test_crop_repeat_odds_match_an_enumeration_of_every_draw(offsets, draws):
    from fractions import Fraction
    from itertools import product

    sequences = list(product(range(offsets), repeat=draws))
    repeats = sum(len(set(s)) < draws for s in sequences)
    distinct = sum(len(set(s)) for s in sequences)
    p_repeat, mean_distinct = crop_repeat_odds(offsets, draws)
    assert p_repeat == Fraction(repeats, len(sequences))
    assert mean_distinct == Fraction(distinct, len(sequences))


def test_crop_repeat_odds_for_the_standard_crop_over_30_epochs():
    p_repeat, mean_distinct = crop_repeat_odds(81, 30)
    assert 0.99 < p_repeat < 1 and 25 < mean_distinct < 26
    assert crop_repeat_odds(2, 3)[0] == 1  # more draws than offsets


@pytest.mark.parametrize(
    "offsets, draws, match",
    [(0, 3, "offsets must be an int >= 1"), (3, -1, "draws must be an int")],
)
def test_crop_repeat_odds_refuse_bad_counts(offsets, draws, match):
    with pytest.raises(ValueError, match=match):
        crop_repeat_odds(offsets, draws)
