"""Time limits on student code, and hwlib's references are not the
student's work."""

import importlib.util
import threading
import time

import pytest

from hwlib import check

from . import students as s
from .helpers import failed, text


@pytest.fixture
def short_limit():
    old = check.set_time_limit(0.5)
    yield
    check.set_time_limit(old)


def endless_saliency(model, x, target):
    while True:
        try:  # a student's broad except does not swallow the limit
            time.sleep(0.01)
        except Exception as err:
            print(err)


def test_a_function_that_never_returns_is_stopped_and_named(short_limit):
    start = time.perf_counter()
    report = check.check_saliency(endless_saliency)
    assert time.perf_counter() - start < 5
    assert not report.passed
    assert "endless_saliency did not return within 0.5 s" in text(report)


def test_the_limit_holds_off_the_main_thread(short_limit):
    box = {}
    worker = threading.Thread(
        target=lambda: box.setdefault(
            "r", check.check_saliency(endless_saliency)
        )
    )
    worker.start()
    worker.join(10)
    assert "did not return within 0.5 s" in text(box["r"])


def test_set_time_limit_refuses_nonsense():
    with pytest.raises(ValueError, match="seconds"):
        check.set_time_limit(-1)
    with pytest.raises(TypeError, match="seconds"):
        check.set_time_limit("5")


needs_answers = pytest.mark.skipif(
    importlib.util.find_spec("hwlib.nn") is None
    or importlib.util.find_spec("hwlib.attribution") is None,
    reason="hwlib's answer modules are not installed",
)


@needs_answers
def test_references_and_their_subclasses_and_callers_fail():
    from hwlib import attribution
    from hwlib.nn import Linear

    class Mine(Linear):
        pass

    def calls_the_reference(model, x, target):
        return attribution.saliency_map(model, x, target)

    for report in (
        check.check_linear(Linear),
        check.check_linear(Mine),
        check.check_saliency(attribution.saliency_map),
        check.check_saliency(calls_the_reference),
    ):
        assert "your own code" in failed(report), report
        assert "hwlib's reference answer" in text(report)
    report = check.check_saliency(calls_the_reference, allow_reference=True)
    assert report.passed, report


def test_own_code_has_no_reference_line():
    report = check.check_saliency(s.saliency_map)
    assert report.passed and "reference" not in str(report)
