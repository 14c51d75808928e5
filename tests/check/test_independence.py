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


NEW_MODULES = """
import sys
import numpy, scipy.optimize, torch, torch.nn.functional
before = set(sys.modules)
import hwlib.check
print(" ".join(set(sys.modules) - before))
"""


def test_importing_the_checks_loads_no_answer_and_no_plotting():
    new = set(
        subprocess.run(
            [sys.executable, "-c", NEW_MODULES],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
    )
    banned = {
        *ANSWER_MODULES,
        "hwlib.models",
        "hwlib.networks",
        "hwlib.review",
    }
    assert not new & banned
    assert not {
        m for m in new if m.split(".")[0] in ("matplotlib", "tqdm", "plotly")
    }
    hwlib = {m for m in new if m.startswith("hwlib")}
    assert hwlib <= {"hwlib", "hwlib._validate"} | {
        m for m in hwlib if m.startswith("hwlib.check")
    }


BLOCK = (
    "import sys\n"
    + "".join(f"sys.modules[{m!r}] = None\n" for m in ANSWER_MODULES)
    + "import pytest\n"
    "sys.exit(pytest.main(sys.argv[1:]))\n"
)


def run_check_tests(cwd: Path, tests: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK,
            str(tests),
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--ignore",
            str(tests / "test_independence.py"),
            "--ignore",  # the command line is the same code, in subprocesses
            str(tests / "test_cli.py"),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_the_check_tests_pass_without_answers_and_from_a_bare_copy(tmp_path):
    bare = tmp_path / "bare"
    (bare / "hwlib").mkdir(parents=True)
    for name in ("__init__.py", "_validate.py"):
        shutil.copy(ROOT / "hwlib" / name, bare / "hwlib" / name)
    shutil.copytree(ROOT / "hwlib" / "check", bare / "hwlib" / "check")
    shutil.copytree(
        HERE,
        bare / "tests" / "check",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    done = run_check_tests(bare, bare / "tests" / "check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "skipped" in done.stdout  # the reference tests need the answers
    assert "hwlib" not in {p.name for p in (bare / "hwlib").iterdir()} - {
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
