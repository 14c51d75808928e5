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
    ("tensor: a list", lambda: _validate.tensor("x", [1.0], shape="(N, C)"),
        TypeError, "x must be a tensor (N, C), got list"),
    ("tensor: too few axes", lambda: _validate.tensor("x", torch.zeros(3), shape="(N, C)"),
        ValueError, "x must be a tensor (N, C), got shape (3,)"),
    ("tensor: a fixed axis of the wrong size", lambda: _validate.tensor("x", torch.zeros(2, 1, 4, 4), shape="(N, 3, H, W)", what="RGB images"),
        ValueError, "x must be RGB images (N, 3, H, W), got shape (2, 1, 4, 4)"),
    ("tensor: channels-last images", lambda: _validate.tensor("x", torch.zeros(2, 32, 32, 3), shape="(N, 3, H, W)"),
        ValueError, "(channels-last? use x.permute(0, 3, 1, 2) for (N, C, H, W) = (2, 3, 32, 32))"),
    ("tensor: integers where floats are needed", lambda: _validate.tensor("x", torch.zeros(2, dtype=torch.long), dtype="floating"),
        TypeError, "x must be a floating tensor, got torch.int64"),
    ("tensor: bools where integers are needed", lambda: _validate.tensor("t", torch.zeros(2, dtype=torch.bool), shape="(N,)", dtype="integer"),
        TypeError, "t must be an integer tensor (N,), got torch.bool"),
    ("tensor: one exact dtype", lambda: _validate.tensor("y", torch.zeros(2, dtype=torch.int32), dtype=torch.int64),
        TypeError, "y must be a tensor of torch.int64, got torch.int32"),
    ("tensor: unlike the parameters", lambda: _validate.tensor("x", torch.zeros(2), like=torch.zeros(2, dtype=torch.float64)),
        TypeError, "x (torch.float32 on cpu) must match the parameters (torch.float64 on cpu)"),
    ("tensor: convert what cannot be", lambda: _validate.tensor("x", object(), convert=True),
        TypeError, "x must be a tensor, got <object object"),
    ("finite: a NaN and an inf", lambda: _validate.finite("maps", torch.tensor([0.0, float("nan"), float("inf")])),
        ValueError, "maps must be finite, got 2 NaN/inf entries (shape (3,))"),
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
    x = torch.zeros(2, 3, 4, 4)
    assert _validate.tensor("x", x, shape="(N, 3, H, W)") is x
    converted = _validate.tensor("x", [[1, 2]], shape="(N, C)", convert=True)
    assert torch.equal(converted, torch.tensor([[1, 2]]))
    # not channels-last: a small batch of 3-wide images keeps no hint
    assert _validate.channels_last_hint(torch.zeros(2, 3, 32, 3)) == ""
    assert _validate.finite("x", torch.arange(3)) is not None


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
