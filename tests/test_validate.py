"""The shared argument checks of hwlib._validate: each refusal names the
argument, the value and what is expected (TypeError for a wrong kind of
value, ValueError for a value out of range)."""

import pytest
import torch

from hwlib import _validate
from hwlib.models import CNNSettings
from hwlib.train import TrainSettings

# One refusal a row: (id, the call,
#     the error it raises, a fragment of its message).
# fmt: off
BAD_INPUTS = [
    ("integer: a float", lambda: _validate.integer("n", 2.0),
        TypeError, "n must be an int >= 1, got 2.0 (float)"),
    ("integer: a bool", lambda: _validate.integer("n", True),
        TypeError, "n must be an int >= 1, got True (bool)"),
    ("integer: above the maximum", lambda: _validate.integer("n", 9, maximum=8),
        ValueError, "n must be an int in [1, 8], got 9"),
    ("boolean: an int", lambda: _validate.boolean("flag", 1),
        TypeError, "flag must be True or False, got 1"),
    ("boolean: None where not allowed", lambda: _validate.boolean("flag", None),
        TypeError, "flag must be True or False, got None"),
    ("boolean: a string where None is allowed", lambda: _validate.boolean("flag", "yes", allow_none=True),
        TypeError, "flag must be True, False or None, got 'yes'"),
    ("device: an unknown name", lambda: _validate.device("gpu"),
        ValueError, "device must be a torch.device or a name such as 'cpu' or 'cuda', got 'gpu'"),
    ("integers: a string", lambda: _validate.integers("sizes", "3072"),
        TypeError, "sizes must be a tuple or list of ints, got '3072' (str)"),
    ("integers: a range", lambda: _validate.integers("sizes", range(3)),
        TypeError, "sizes must be a tuple or list of ints, got range(0, 3) (range)"),
    ("integers: too short", lambda: _validate.integers("sizes", [3], min_length=2),
        ValueError, "sizes must hold at least 2 ints, got [3]"),
    ("integers: an entry below the minimum", lambda: _validate.integers("sizes", (3, 0, 2)),
        ValueError, "sizes[1] must be an int >= 1, got 0"),
    ("integers: a float entry", lambda: _validate.integers("sizes", (3, 2.0)),
        TypeError, "sizes[1] must be an int >= 1, got 2.0 (float)"),
]
# fmt: on


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


# The fields both training-settings classes share (_validate.sgd_fields).
SGD_FIELD_CASES = [
    ("epochs", 0, ValueError, "epochs must be an int >= 1, got 0"),
    ("epochs", 2.0, TypeError, "epochs must be an int >= 1, got 2.0 (float)"),
    (
        "epochs",
        False,
        TypeError,
        "epochs must be an int >= 1, got False (bool)",
    ),
    ("epochs", True, TypeError, "epochs must be an int >= 1, got True (bool)"),
    ("batch_size", -1, ValueError, "batch_size must be an int >= 1, got -1"),
    ("batch_size", 0, ValueError, "batch_size must be an int >= 1, got 0"),
    (
        "batch_size",
        12.5,
        TypeError,
        "batch_size must be an int >= 1, got 12.5 (float)",
    ),
    (
        "batch_size",
        True,
        TypeError,
        "batch_size must be an int >= 1, got True (bool)",
    ),
    ("lr", "0.1", TypeError, "lr must be a real number, got '0.1' (str)"),
    (
        "lr",
        -0.1,
        ValueError,
        "lr must be a finite number in (0, inf), got -0.1",
    ),
    ("lr", 0, ValueError, "lr must be a finite number in (0, inf), got 0.0"),
    (
        "lr",
        float("inf"),
        ValueError,
        "lr must be a finite number in (0, inf), got inf",
    ),
    (
        "lr",
        float("nan"),
        ValueError,
        "lr must be a finite number in (0, inf), got nan",
    ),
    (
        "momentum",
        -0.5,
        ValueError,
        "momentum must be a finite number in [0, 1), got -0.5",
    ),
    (
        "momentum",
        1.0,
        ValueError,
        "momentum must be a finite number in [0, 1), got 1.0",
    ),
    (
        "weight_decay",
        -1e-4,
        ValueError,
        "weight_decay must be a finite number in [0, inf), got -0.0001",
    ),
    (
        "seed",
        -1,
        ValueError,
        "seed must be an int in [0, 9223372036854775807], got -1",
    ),
    (
        "seed",
        2**64,
        ValueError,
        "seed must be an int in [0, 9223372036854775807], got 18446744073709551616",
    ),
    (
        "seed",
        True,
        TypeError,
        "seed must be an int in [0, 9223372036854775807], got True (bool)",
    ),
]


@pytest.mark.parametrize("settings_class", [TrainSettings, CNNSettings])
@pytest.mark.parametrize(
    ("field", "value", "error", "fragment"), SGD_FIELD_CASES
)
def test_both_settings_classes_refuse_bad_sgd_fields(
    refused, settings_class, field, value, error, fragment
):
    refused(lambda: settings_class(**{field: value}), error, fragment)
