"""python -m hwlib.check TOPIC path/to/file.py[:NAME[,NAME]] (or a .ipynb).

Exit status: 0 when the check passed, 1 when it failed (or the student's
file could not be run), 2 for a usage error. The report is printed even
when the student's file calls sys.exit or exit() while it is imported,
and the import itself runs under the time limit of every call.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

from . import TOPICS
from .calling import call_named


class _ImportFailed(Exception):
    """The student's file raised while it was imported."""


def _usage() -> str:
    lines = [
        "usage: python -m hwlib.check TOPIC file.py[:NAME[,NAME]]",
        "       python -m hwlib.check TOPIC notebook.ipynb[:NAME[,NAME]]",
        "       python -m hwlib.check --list",
        "",
        "topics:",
    ]
    for name, topic in TOPICS.items():
        lines.append(f"  {name:<26} NAME = {','.join(topic.names)}")
        lines.append(f"  {'':<26} {topic.signature}")
    return "\n".join(lines)


def _source(file: Path) -> str:
    """The file's code: a .py file as is, a notebook's code cells joined
    (lines starting with ! or % are IPython commands: left out)."""
    text = file.read_text(encoding="utf-8")
    if file.suffix != ".ipynb":
        return text
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{file} is not a readable notebook ({err})"
        ) from None
    code = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            code.append(
                "\n".join(
                    line
                    for line in source.splitlines()
                    if not line.lstrip().startswith(("!", "%"))
                )
            )
    return "\n\n".join(code)


def _load(spec: str, defaults: tuple[str, ...]) -> list:
    """The objects NAME[,NAME] of file.py:NAME (ValueError when absent)."""
    path, _, names = spec.partition(":")
    names = tuple(n.strip() for n in names.split(",")) if names else defaults
    if len(names) != len(defaults):
        raise ValueError(
            f"this topic needs {len(defaults)} names ({','.join(defaults)}), "
            f"got {','.join(names)}"
        )
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such file: {path}")
    if file.suffix not in (".py", ".ipynb"):
        raise ValueError(
            f"expected a .py file or a .ipynb notebook, got {path}"
        )
    module = types.ModuleType(file.stem)
    module.__file__ = str(file)
    code = compile(_source(file), str(file), "exec")
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        call_named(f"importing {file.name}", exec, code, module.__dict__)
    except SystemExit as err:
        print(
            f"note: {file.name} called sys.exit({err.code!r}) while it was "
            "imported; checking what it defined before that"
        )
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        raise _ImportFailed(f"{type(err).__name__}: {err}") from err
    missing = [n for n in names if n not in module.__dict__]
    if missing:
        raise ValueError(f"{path} defines no {', '.join(missing)}")
    return [module.__dict__[n] for n in names]


def main(argv: list[str] | None = None) -> int:
    """Run one check from the command line; 0 passed, 1 failed, 2 usage."""
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--list"], ["-l"], ["--help"], ["-h"]):
        print(_usage())
        return 0
    if len(argv) != 2 or argv[0] not in TOPICS:
        message = (
            _usage()
            if len(argv) != 2
            else f"unknown topic {argv[0]!r}; see --list"
        )
        print(message, file=sys.stderr)
        return 2
    topic = TOPICS[argv[0]]
    try:
        objects = _load(argv[1], topic.names)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except _ImportFailed as err:  # the student's file failed
        print(f"✗ could not import {argv[1]}: {err}")
        return 1
    try:
        report = topic.check(*objects)
    except SystemExit as err:  # a check never raises; belt and braces
        print(f"✗ the check was stopped by sys.exit({err.code!r})")
        return 1
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
