"""The shared argument checks of hwlib._validate: each refusal names the
argument, the value and what is expected (TypeError for a wrong kind of
value, ValueError for a value out of range)."""

import pytest
import torch

from hwlib import _validate

BAD_INPUTS = [
    (
        "integer: a float",
        lambda: _validate.integer("n", 2.0),
        TypeError,
        "n must be an int >= 1, got 2.0 (float)",
    ),
    (
        "integer: a bool",
        lambda: _validate.integer("n", True),
        TypeError,
        "n must be an int >= 1, got True (bool)",
    ),
    (
        "integer: above the maximum",
        lambda: _validate.integer("n", 9, maximum=8),
        ValueError,
        "n must be an int in [1, 8], got 9",
    ),
    (
        "boolean: an int",
        lambda: _validate.boolean("flag", 1),
        TypeError,
        "flag must be True or False, got 1",
    ),
    (
        "boolean: None where not allowed",
        lambda: _validate.boolean("flag", None),
        TypeError,
        "flag must be True or False, got None",
    ),
    (
        "boolean: a string where None is allowed",
        lambda: _validate.boolean("flag", "yes", allow_none=True),
        TypeError,
        "flag must be True, False or None, got 'yes'",
    ),
    (
        "device: an unknown name",
        lambda: _validate.device("gpu"),
        ValueError,
        "device must be a torch.device or a name such as 'cpu' or 'cuda', "
        "got 'gpu'",
    ),
    (
        "integers: a string",
        lambda: _validate.integers("sizes", "3072"),
        TypeError,
        "sizes must be a tuple or list of ints, got '3072' (str)",
    ),
    (
        "integers: a range",
        lambda: _validate.integers("sizes", range(3)),
        TypeError,
        "sizes must be a tuple or list of ints, got range(0, 3) (range)",
    ),
    (
        "integers: too short",
        lambda: _validate.integers("sizes", [3], min_length=2),
        ValueError,
        "sizes must hold at least 2 ints, got [3]",
    ),
    (
        "integers: an entry below the minimum",
        lambda: _validate.integers("sizes", (3, 0, 2)),
        ValueError,
        "sizes[1] must be an int >= 1, got 0",
    ),
    (
        "integers: a float entry",
        lambda: _validate.integers("sizes", (3, 2.0)),
        TypeError,
        "sizes[1] must be an int >= 1, got 2.0 (float)",
    ),
]


def test_bad_input_is_refused_by_name(bad_input, refused):
    refused(*bad_input)


def test_accepted_values_come_back_normalised():
    assert _validate.integers("sizes", [3, 2]) == (3, 2)
    assert _validate.integers("sizes", (0, 1), minimum=0) == (0, 1)
    assert _validate.integer("n", 8, maximum=8) == 8
    assert _validate.boolean("flag", None, allow_none=True) is None
    assert _validate.device(None) == torch.device("cpu")


@pytest.mark.parametrize("value", [False, True])
def test_booleans_pass_through(value):
    assert _validate.boolean("flag", value) is value
