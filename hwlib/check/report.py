"""The Report every check returns: a verdict, then one line per case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .compare import (
    Hints,
    as_tensor,
    close,
    diagnose,
    expected_text,
    fmt,
    shape_of,
)


class Missing:
    """Stands in for an attribute the student's object lacks; `others`
    lists the object's gradient-like attributes (dW, grad_w, ...)."""

    def __init__(self, name: str, others: list[str]) -> None:
        self.name, self.others = name, others

    def __str__(self) -> str:
        found = f" (it has {', '.join(self.others)})" if self.others else ""
        return f"no attribute {self.name!r}{found}"


def attribute(obj, name: str):
    """obj.name, or a Missing marker when there is no such attribute."""
    try:
        return getattr(obj, name)
    except Exception:  # any failure (property raising, ...) means missing
        names = getattr(obj, "__dict__", {})
        others = [n for n in names if n.startswith(("d", "grad"))]
        return Missing(name, sorted(others)[:4])


class _Failed:
    """The result of a call that raised (already reported)."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED = _Failed()


def name_of(obj) -> str:
    return getattr(obj, "__name__", type(obj).__name__)


@dataclass
class Report:
    """What a check compared: one (case, passed, detail) line per case."""

    title: str
    lines: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, case: str, passed: bool, detail: str = "") -> bool:
        """Record one line; returns `passed`."""
        self.lines.append((case, bool(passed), detail))
        return bool(passed)

    def compare(self, case: str, ours, reference, context=None) -> bool:
        """Record whether `ours` equals `reference` (shape and values).

        None, a missing attribute, an unreadable value, a wrong shape and
        inf/nan all fail with a line saying what was expected; a value
        mismatch fails with the largest difference and a diagnosis.
        """
        reference = as_tensor(reference)
        want = expected_text(reference)
        if isinstance(ours, Missing):
            return self.add(
                case, False, f"{ours}; expected .{ours.name} to hold {want}"
            )
        if ours is None:
            return self.add(case, False, f"got None, expected {want}")
        try:
            mine = as_tensor(ours)
        except Exception as err:
            return self.add(
                case,
                False,
                f"could not read the {type(ours).__name__} as numbers "
                f"({err}); expected {want}",
            )
        if mine.numel() == 1 == reference.numel():
            mine = mine.reshape(reference.shape)
        return self._compare_values(case, mine, reference, context)

    def _compare_values(self, case, mine, reference, context) -> bool:
        if mine.shape != reference.shape:
            hint = diagnose(mine, reference, context)
            return self.add(
                case,
                False,
                f"shape {shape_of(mine)}, expected {shape_of(reference)}"
                + (f": {hint}" if hint else ""),
            )
        if not torch.isfinite(mine).all():
            return self.add(case, False, Hints.of(context).not_finite)
        if close(mine, reference):
            return self.add(case, True)
        diff = (mine - reference).abs()
        where = np.unravel_index(int(diff.argmax()), shape_of(diff))
        index = ", ".join(map(str, where))
        detail = (
            f"at [{index}] yours {fmt(mine[where])}, expected "
            f"{fmt(reference[where])}"
        )
        hint = diagnose(mine, reference, context)
        return self.add(case, False, detail + (f"; {hint}" if hint else ""))

    def run(self, case: str, fn: Callable, *args, **kwargs):
        """fn(*args, **kwargs) under the time limit; an exception (or the
        time limit) becomes a failed line instead. Returns the result, or
        FAILED."""
        from .calling import call_student

        try:
            return call_student(fn, *args, **kwargs)
        except BaseException as err:  # reported
            if isinstance(err, KeyboardInterrupt):
                raise
            self.add(case, False, f"raised {type(err).__name__}: {err}")
            return FAILED

    @property
    def passed(self) -> bool:
        """True when at least one line was checked and every line passed."""
        return bool(self.lines) and all(ok for _, ok, _ in self.lines)

    def verdict(self) -> str:
        """The one-line summary printed first."""
        failed = sum(not ok for _, ok, _ in self.lines)
        if not self.lines:
            return f"✗ {self.title}: nothing was checked"
        if self.passed:
            return f"✓ {self.title}: all {len(self.lines)} checks passed"
        return f"✗ {self.title}: {failed} of {len(self.lines)} checks failed"

    def __str__(self) -> str:
        body = [
            f"  {'✓' if ok else '✗'} {case}"
            + (f": {detail}" if detail else "")
            for case, ok, detail in self.lines
        ]
        return "\n".join([self.verdict(), *body])

    __repr__ = __str__
