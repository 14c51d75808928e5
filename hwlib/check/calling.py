"""Calling student code: a time limit on every call, torch or numpy
arrays, and a watch for hwlib's own reference answers.

Every call to student code goes through `call_student`, which stops it
after `time_limit()` seconds (SIGALRM in the main thread of a Unix
process; elsewhere the call runs in a helper thread that is abandoned when
late) and records whether code from one of hwlib's answer modules ran
(a trace hook compares each new frame's file with theirs; the
modules themselves are never imported). A check decorated with `guarded`
never raises, and fails a submission that is, derives from or calls a
reference, unless called with allow_reference=True (the book does this to
show its own references passing).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .report import FAILED, Report, name_of

ANSWER_MODULES = (
    "hwlib.attribution",
    "hwlib.backprop",
    "hwlib.conv",
    "hwlib.gates",
    "hwlib.nn",
    "hwlib.regions",
    "hwlib.train",
)
"""hwlib's modules that hold answers: a check never imports them, and a
submission that is, subclasses or calls them is not the student's work."""

DEFAULT_TIME_LIMIT = 10.0
_limit = [
    float(os.environ.get("HWLIB_CHECK_TIME_LIMIT") or DEFAULT_TIME_LIMIT)
]


def time_limit() -> float:
    """Seconds each call to student code may take."""
    return _limit[0]


def set_time_limit(seconds: float) -> float:
    """Set the limit for each call to student code; returns the old one.

    Also settable with the environment variable HWLIB_CHECK_TIME_LIMIT.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds must be a number, got {seconds!r}")
    if not 0 < seconds < 1e6:
        raise ValueError(f"seconds must be in (0, 1e6), got {seconds!r}")
    old, _limit[0] = _limit[0], float(seconds)
    return old


class TimeLimitExceeded(BaseException):
    """A call to student code ran past the time limit (a BaseException, so
    that a student's `except Exception` cannot swallow it)."""


# ---------------------------------------------------------------------------
# Which code ran: hwlib's answer modules, found by file, never imported
# ---------------------------------------------------------------------------

_HWLIB = Path(__file__).resolve().parents[1]
_ANSWER_FILES = {
    str(_HWLIB / (m.split(".")[1] + ".py")): m for m in ANSWER_MODULES
}


@dataclass
class _Session:
    allow_reference: bool = False
    used: set | None = None
    depth: int = 0


_local = threading.local()


def _session() -> _Session:
    if not hasattr(_local, "session"):
        _local.session = _Session(used=set())
    return _local.session


def _answer_module(filename: str) -> str | None:
    found = _ANSWER_FILES.get(filename)
    if found is None and filename.endswith(".py") and "hwlib" in filename:
        found = _ANSWER_FILES.get(os.path.realpath(filename))
    return found


def reference_name(obj) -> str | None:
    """'hwlib.nn.Linear' when obj is, wraps or derives from an answer
    module's function or class; else None."""
    seen = 0
    while seen < 8:
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif hasattr(obj, "__func__"):
            obj = obj.__func__
        else:
            break
    classes = obj.__mro__ if isinstance(obj, type) else type(obj).__mro__
    candidates = [obj, *classes] if callable(obj) else list(classes)
    for item in candidates:
        module = getattr(item, "__module__", None)
        if module in ANSWER_MODULES:
            return f"{module}.{getattr(item, '__qualname__', name_of(item))}"
    code = getattr(obj, "__code__", None)
    if code is not None and _answer_module(code.co_filename):
        return f"{_answer_module(code.co_filename)}.{name_of(obj)}"
    return None


def _tracer(used: set) -> Callable:
    """A trace function that sees each new Python frame ("call" events
    only: it returns None, so no line of any frame is traced)."""
    seen: dict = {}

    def hook(frame, event, arg):
        code = frame.f_code
        if code not in seen:
            seen[code] = _answer_module(code.co_filename)
            if seen[code] is not None:
                used.add(f"{seen[code]}.{code.co_name}")

    return hook


def _watched(fn: Callable, args, kwargs, used: set):
    old = sys.gettrace()
    sys.settrace(_tracer(used))
    try:
        return fn(*args, **kwargs)
    finally:
        sys.settrace(old)


# ---------------------------------------------------------------------------
# The time limit
# ---------------------------------------------------------------------------


def _late(name: str, limit: float) -> TimeLimitExceeded:
    return TimeLimitExceeded(
        f"{name} did not return within {limit:g} s, the time limit "
        "of each call (an endless loop? hwlib.check.set_time_limit(seconds) "
        "changes it)"
    )


def _with_alarm(fn, args, kwargs, used, limit, name):
    def ring(signum, frame):
        raise _late(name, limit)

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return _watched(fn, args, kwargs, used)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_thread(fn, args, kwargs, used, limit, name):
    box: dict = {}

    def target():
        _session().depth = 1  # calls inside run under this limit
        try:
            box["value"] = _watched(fn, args, kwargs, used)
        except BaseException as err:  # handed to the caller
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():  # abandoned: a daemon thread cannot be stopped
        raise _late(name, limit)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def call_student(fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs) within the time limit, watching which code runs.

    Raises TimeLimitExceeded naming fn and the limit when it is late; calls
    nested inside one already limited run under the outer limit.
    """
    return call_named(name_of(fn), fn, *args, **kwargs)


def call_named(name: str, fn: Callable, *args, **kwargs):
    """call_student, naming the student's code `name` when it is late."""
    session = _session()
    if session.depth:
        return fn(*args, **kwargs)
    session.depth += 1
    try:
        alarm = (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        )
        run = _with_alarm if alarm else _in_thread
        return run(fn, args, kwargs, session.used, time_limit(), name)
    finally:
        session.depth -= 1


# ---------------------------------------------------------------------------
# Checks never raise, and grade only the student's own code
# ---------------------------------------------------------------------------


def _reference_line(report: Report, names: list[str], allowed: bool):
    used = ", ".join(list(dict.fromkeys(names))[:3])
    if allowed:
        report.add(
            "hwlib's reference (allowed)",
            True,
            f"{used} is hwlib's own answer, checked with allow_reference=True",
        )
    else:
        report.add(
            "your own code",
            False,
            f"this is hwlib's reference answer ({used}), not your own "
            "work: a check grades the code you write",
        )


def guarded(check: Callable) -> Callable:
    """Make a check return a failed report instead of raising, and fail a
    submission that is or calls hwlib's reference (allow_reference=True
    accepts it).

    While it runs, numpy code handed torch tensors does not warn: torch's
    __array_wrap__ DeprecationWarning (numpy 2's signature) is noise to a
    student, whatever line of their code triggers it.
    """

    @functools.wraps(check)
    def wrapper(*args, allow_reference: bool = False, **kwargs) -> Report:
        session = _session()
        outer = (session.allow_reference, session.used)
        session.allow_reference, session.used = bool(allow_reference), set()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", ".*__array_wrap__", DeprecationWarning
                )
                report = check(*args, **kwargs)
        except BaseException as err:  # never raise
            if isinstance(err, KeyboardInterrupt):
                raise
            report = Report(f"{check.__name__}")
            report.add(
                "running the check", False, f"{type(err).__name__}: {err}"
            )
        static = [reference_name(a) for a in (*args, *kwargs.values())]
        found = [n for n in static if n] + sorted(session.used)
        if found:
            _reference_line(report, found, bool(allow_reference))
        session.allow_reference, session.used = outer
        if outer[1] is not None:
            outer[1].update(found)
        return report

    return wrapper


# ---------------------------------------------------------------------------
# Student code in torch or in numpy
# ---------------------------------------------------------------------------


def in_mode(value, mode: str):
    """A fresh copy of value for code that computes in `mode`: "torch"
    (float64 tensors), "float32" (tensors) or "numpy" (float64 arrays)."""
    if isinstance(value, tuple):
        return tuple(in_mode(v, mode) for v in value)
    if isinstance(value, Tensor):
        value = value.detach().clone()
        if mode == "float32" and value.is_floating_point():
            return value.float()
        return value.numpy() if mode == "numpy" else value
    return value


def try_modes(report: Report, case: str, attempt: Callable, modes, who=None):
    """attempt(mode) in each mode until one does not raise (each within the
    time limit, named after `who`).

    Returns (result, mode), or (FAILED, None) after recording a failed line
    with the error of the first mode (and of the second, if tried).
    """
    errors = []
    for mode in modes:
        try:
            name = name_of(who) if who is not None else name_of(attempt)
            return call_named(name, attempt, mode), mode
        except TimeLimitExceeded as err:  # the other mode would be late too
            errors.append(str(err))
            break
        except BaseException as err:  # reported
            if isinstance(err, KeyboardInterrupt):
                raise
            errors.append(f"with {mode} arrays: {type(err).__name__}: {err}")
    report.add(case, False, "raised " + "; ".join(errors[:2]))
    return FAILED, None


def call_in(fn: Callable, args: tuple, mode: str):
    """fn(*args) with the tensors in args given as `mode` arrays."""
    return fn(*(in_mode(a, mode) for a in args))


def module_forward(report: Report, case: str, make: Callable, inputs, who):
    """module = make(mode); module.forward(*inputs), with torch tensors
    first, then numpy arrays if that raises.

    Returns (module, output, mode), or None after a failed line.
    """

    def attempt(mode):
        module = make(mode)
        return module, module.forward(*in_mode(inputs, mode))

    modes = ("torch", "numpy", "float32")
    result, mode = try_modes(report, case, attempt, modes, who)
    return None if mode is None else (*result, mode)


def randn(g: torch.Generator, *shape: int) -> Tensor:
    """float64 standard-normal draws of this shape from g."""
    return torch.randn(shape, generator=g, dtype=torch.float64)


def run_cases(title: str, make_cases: Callable, case: Callable, *args):
    """A Report titled title, from one generator g seeded with 0: first
    make_cases(g) -> {name: input}, then case(report, *args, name, input,
    g) for each, in order (so every case sees the same draws each run)."""
    report = Report(title)
    g = torch.Generator().manual_seed(0)
    for name, x in make_cases(g).items():
        case(report, *args, name, x, g)
    return report


def unpack(report, case, value, names: tuple[str, ...]):
    """value as a tuple of len(names), or FAILED after a failed line."""
    if isinstance(value, (tuple, list)) and len(value) == len(names):
        return tuple(value)
    got = "None" if value is None else type(value).__name__
    if isinstance(value, (tuple, list)):
        got = f"a {got} of {len(value)} items"
    report.add(
        case, False, f"expected a tuple ({', '.join(names)}), got {got}"
    )
    return FAILED


@dataclass(frozen=True)
class Topic:
    """A command-line topic: the check, the names it reads from the
    student's file (in order), and what they must be."""

    check: Callable
    names: tuple[str, ...]
    signature: str
