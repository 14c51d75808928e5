"""hwlib.check holds no answer: importing it loads no answer module (nor
matplotlib, tqdm beyond torch's own, hwlib.train), its tests pass where
the answer modules are unimportable, and from a copy holding only
hwlib/__init__, hwlib/_validate and hwlib/check."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwlib.check import ANSWER_MODULES

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


BARE = (
    "import sys\n"
    + "".join(f"sys.modules[{m!r}] = None\n" for m in ANSWER_MODULES)
    + "import numpy, scipy.optimize, torch, torch.nn.functional\n"
    "before = set(sys.modules)\n"
    "import hwlib.check\n"
    "with open(sys.argv.pop(1), 'w') as f:\n"
    "    f.write(' '.join(set(sys.modules) - before))\n"
    "import pytest\n"
    "sys.exit(pytest.main(sys.argv[1:]))\n"
)
"""In one process (one torch import): make the answer modules
unimportable, record what importing hwlib.check loads, run the tests."""

# Not run in the bare copy: the command line runs the same checks in
# subprocesses, the time-limit tests wait on the clock, not on code that
# could import an answer, and tests marked exhaustive (conftest.py) repeat
# a code path the other tests run; of a test parametrised over many cases
# only the first case runs there (conftest.py).
LEFT_OUT = (
    "test_independence.py",
    "test_cli.py",
    "test_calling.py::test_a_function_that_never_returns_is_stopped_and_named",
    "test_calling.py::test_the_limit_holds_off_the_main_thread",
)


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A copy holding only hwlib/__init__, hwlib/_validate, hwlib/check
    and the check tests, run once: (the pytest run, modules loaded by
    importing hwlib.check, the copy's hwlib folder)."""
    root = tmp_path_factory.mktemp("bare")
    (root / "hwlib").mkdir()
    for name in ("__init__.py", "_validate.py"):
        shutil.copy(ROOT / "hwlib" / name, root / "hwlib" / name)
    shutil.copytree(ROOT / "hwlib" / "check", root / "hwlib" / "check")
    tests = root / "tests" / "check"
    shutil.copytree(HERE, tests, ignore=shutil.ignore_patterns("__pycache__"))
    loaded = root / "loaded.txt"
    skip = [
        f"--deselect={tests / t}" if "::" in t else f"--ignore={tests / t}"
        for t in LEFT_OUT
    ]
    done = subprocess.run(
        [sys.executable, "-c", BARE, str(loaded), str(tests), "-q"]
        + ["-p", "no:cacheprovider", "-o", "addopts=", *skip]
        + ["-m", "not exhaustive"],
        capture_output=True,
        text=True,
        cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root), HWLIB_CHECK_BARE_COPY="1"),
        timeout=600,
    )
    new = set(loaded.read_text().split()) if loaded.exists() else None
    return done, new, root / "hwlib"


def test_importing_the_checks_loads_no_answer_and_no_plotting(bare):
    """In the bare copy an import of anything but hwlib/__init__,
    hwlib/_validate and hwlib.check fails, so importing hwlib.check there
    shows it needs nothing else."""
    done, new, _ = bare
    assert new is not None, done.stderr[-3000:]
    assert not new & set(ANSWER_MODULES)
    assert not {
        m for m in new if m.split(".")[0] in ("matplotlib", "tqdm", "plotly")
    }
    hwlib = {m for m in new if m.startswith("hwlib")}
    assert hwlib <= {"hwlib", "hwlib._validate"} | {
        m for m in hwlib if m.startswith("hwlib.check")
    }


def test_the_check_tests_pass_without_answers_and_from_a_bare_copy(bare):
    done, _, hwlib = bare
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "skipped" in done.stdout  # the reference tests need the answers
    assert {p.name for p in hwlib.iterdir()} <= {
        "__init__.py",
        "_validate.py",
        "check",
        "__pycache__",
    }


def test_the_answer_modules_are_the_course_tables():
    tables = ROOT / "tools" / "assign" / "modules.py"
    if not tables.exists():
        pytest.skip("a copy without the course's tools")
    namespace: dict = {}
    exec(compile(tables.read_text(), str(tables), "exec"), namespace)
    assert set(ANSWER_MODULES) == set(namespace["ANSWER"])
