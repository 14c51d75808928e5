"""Run ruff over the code cells of the chapters (chapters/*.md, MyST notebooks).

    python tools/format_chapters.py           # fix and format the cells, in place
    python tools/format_chapters.py --check   # report only; exit 1 if anything is off

ruff reads notebooks natively (code cells only, with the context of the cells
before), but not MyST markdown. So each chapter is written as a notebook to
_build/ruff/chapters/, ruff runs there with the settings of pyproject.toml
(those of chapters/*.ipynb), and in the default mode each changed cell is put
back into the .md by replacing its source text and nothing else: the prose
and the cell options stay byte for byte. Run `make sync` afterwards to
refresh the .ipynb twins (`make format` does both).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "_build" / "ruff" / "chapters"
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n", re.MULTILINE)


def ruff() -> str:
    """The ruff next to this Python (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("ruff")
    found = str(local) if local.exists() else shutil.which("ruff")
    if not found:
        sys.exit("format_chapters: ruff is not installed (pip install ruff)")
    return found


def export(chapters: list[Path]) -> dict[Path, Path]:
    """Write each chapter as a notebook under WORK; chapter -> notebook."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    copies = {}
    for md in chapters:
        copies[md] = WORK / f"{md.stem}.ipynb"
        nbformat.write(jupytext.read(md), copies[md])
    return copies


def put_back(md: Path, notebook: Path) -> bool:
    """Replace each changed code cell's source in the .md; True if changed."""
    text = md.read_text()
    old = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    new = [
        c.source
        for c in nbformat.read(notebook, 4).cells
        if c.cell_type == "code"
    ]
    if len(old) != len(new):
        raise RuntimeError(f"{md.name}: ruff changed the number of cells")
    pieces, start = [], 0
    for match, before, after in zip(CODE_CELL.finditer(text), old, new):
        # the source follows the fence and its options; find it from there
        at = text.index(before + "\n```", match.end())
        pieces += [text[start:at], after]
        start = at + len(before)
    result = "".join(pieces) + text[start:]
    if result != text:
        md.write_text(result)
    return result != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="report problems, change nothing"
    )
    parser.add_argument(
        "chapters", nargs="*", type=Path, help="default: chapters/*.md"
    )
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted((ROOT / "chapters").glob("*.md"))
    copies = export(chapters)
    files = [str(p) for p in copies.values()]
    if args.check:
        lint = subprocess.run([ruff(), "check", *files], cwd=ROOT)
        form = subprocess.run([ruff(), "format", "--check", *files], cwd=ROOT)
        print(
            f"format_chapters: notebooks of {WORK.relative_to(ROOT)} "
            "stand for chapters/*.md (same names)"
        )
        return int(bool(lint.returncode or form.returncode))
    subprocess.run(
        [ruff(), "check", "--fix", "--exit-zero", "-q", *files],
        cwd=ROOT,
        check=True,
    )
    subprocess.run([ruff(), "format", "-q", *files], cwd=ROOT, check=True)
    changed = [md.name for md, nb in copies.items() if put_back(md, nb)]
    print(
        f"format_chapters: {len(changed)} of {len(copies)} chapters "
        f"changed {changed}; run `make sync` to refresh the .ipynb twins"
    )
    # what ruff cannot fix by itself (e.g. a long string) is left to a person;
    # `make lint` (this script with --check) fails on it
    subprocess.run([ruff(), "check", "-q", *files], cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
