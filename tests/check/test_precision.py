"""float32 answers: compared at float32's precision, named, and no looser."""

import numpy as np
import torch

from hwlib.check import Report
from hwlib.check.precision import FLOAT32_RTOL, compare, is_float32


def test_is_float32():
    assert is_float32(torch.ones(2)) and is_float32(np.ones(2, np.float32))
    assert not is_float32(torch.ones(2, dtype=torch.float64))
    assert not is_float32(np.ones(2)) and not is_float32([1.0])


def test_float32_rounding_passes_and_more_fails():
    ref = torch.linspace(-1, 1, 7, dtype=torch.float64)
    report = Report("t")
    assert compare(report, "rounded", ref.float(), ref)
    assert "float32" in report.lines[-1][2]
    assert not compare(report, "float64 code", ref + 2e-5, ref)
    off = (ref * (1 + 10 * FLOAT32_RTOL)).float()
    assert not compare(report, "0.1 % off", off, ref)
    assert compare(report, "given as float32", ref + 2e-5, ref, float32=True)
