"""The comparison engine: formats, one tolerance, diagnoses, Hints."""

import numpy as np
import scipy.sparse
import sympy
import torch

from hwlib.check import Hints, Report, diagnose


def test_compare_reads_every_format():
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for value in (
        want.numpy(),
        want.tolist(),
        scipy.sparse.csr_matrix(want.numpy()),
        sympy.Matrix(want.tolist()),
        want.float(),
    ):
        report = Report("t")
        assert report.compare("c", value, want), report
    report = Report("t")
    assert not report.compare("c", None, want)
    assert not report.compare("c", "text", want)
    assert not report.compare("c", np.full((2, 2), np.nan), want)


def test_diagnoses_and_hints():
    ref = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert "sign is flipped" in diagnose(-ref, ref)
    assert "batch size N = 2" in diagnose(2 * ref, ref, {"batch_size": 2})
    assert "batch size N = 2" in diagnose(2 * ref, ref, Hints(batch_size=2))
    assert "transpose" in diagnose(ref.T, ref)
    assert diagnose("junk", ref) == ""
    named = Hints(alternatives=lambda: {"my mistake": ref + 1})
    assert diagnose(ref + 1, ref, named) == "my mistake"


def test_one_relative_tolerance_for_large_values():
    ref = torch.tensor([1e8, 2e8])
    report = Report("t")
    assert report.compare("c", ref * (1 + 1e-7), ref)
    assert not report.compare("c", ref * (1 + 1e-3), ref)
