"""Name the book's GitHub repository in one command (for a fork, say).

    python tools/set_repository.py https://github.com/OWNER/NAME   # set it
    python tools/set_repository.py --check                          # agree?

The one source is `repository.url` in _config.yml; Jupyter Book's launch
buttons (Colab, Binder) and the repository button read it from there. Copies
that cannot read it are rewritten from it: each chapter's install cell (and
its .ipynb twin, and the student notebooks in assignments/), the Colab links
of assignments.md, and the README (the repository and the GitHub Pages
address https://OWNER.github.io/NAME/).
`--check` exits 1 and names every file that disagrees with _config.yml
(tests/test_book.py runs it). `--install-cells` writes INSTALL_CELL, the one
template of the chapters' first cell, into every chapter (then `make sync`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")
CONFIG_LINE = re.compile(r"^(repository:\n(?:[ \t].*\n)*?  url: )(\S+)", re.M)

# The first code cell of every chapter, its one home: it runs before hwlib
# is installed, so it cannot import hwlib. `--install-cells` writes it into
# every chapter; tests/test_book.py checks that each chapter holds it.
INSTALL_CELL = """\
# Colab: install hwlib when missing (one template: tools/set_repository.py)
import importlib.util, os, subprocess, sys  # noqa: E401, I001

if importlib.util.find_spec("hwlib") is None:
    url = "git+{url}"
    url = os.environ.get("HWLIB_SOURCE", url)  # or another copy of hwlib
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"hwlib[book] @ {{url}}"], check=True)"""
FIRST_CELL = re.compile(
    r"(^```\{code-cell\}[^\n]*\n(?::[^\n]*\n)*\n?)(.*?)(?=\n```\n)",
    re.M | re.S,
)


def install_cell(url: str) -> str:
    """The source of every chapter's first cell, for repository `url`."""
    return INSTALL_CELL.format(url=url)


def first_cell(text: str) -> str:
    """The source of the first code cell of a MyST chapter ('' if none)."""
    match = FIRST_CELL.search(text)
    return match.group(2) if match else ""


def set_install_cells(root: Path = ROOT) -> list[Path]:
    """Write install_cell into each chapter whose first cell installs
    hwlib (it names $HWLIB_SOURCE); the chapters changed."""
    cell = install_cell(configured(root))
    changed = []
    for path in sorted(root.glob("chapters/*.md")):
        text = path.read_text()
        match = FIRST_CELL.search(text)
        if not match or "HWLIB_SOURCE" not in match.group(2):
            continue
        result = text[: match.start(2)] + cell + text[match.end(2) :]
        if result != text:
            path.write_text(result)
            changed.append(path)
    return changed


def pages_url(url: str) -> str:
    """Where GitHub Pages serves the book of repository `url`."""
    owner, name = URL.match(url).groups()
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_path(url: str) -> str:
    """How Colab links name the repository: .../github/OWNER/NAME/blob/..."""
    owner, name = URL.match(url).groups()
    return f"colab.research.google.com/github/{owner}/{name}/"


def configured(root: Path = ROOT) -> str:
    """repository.url of _config.yml."""
    match = CONFIG_LINE.search((root / "_config.yml").read_text())
    if not match:
        raise SystemExit("set_repository: _config.yml has no repository.url")
    return match.group(2)


def copies(root: Path = ROOT) -> dict[Path, list[str]]:
    """Files that must name the repository -> the strings they must hold."""
    url = configured(root)
    wanted = {root / "README.md": [url, pages_url(url)]}
    if (root / "assignments.md").exists():  # Colab links to student notebooks
        wanted[root / "assignments.md"] = [colab_path(url)]
    for pattern in (
        "chapters/*.md",
        "chapters/*.ipynb",
        "assignments/*.ipynb",
    ):
        for path in sorted(root.glob(pattern)):
            if "HWLIB_SOURCE" in path.read_text():  # it has an install cell
                wanted[path] = [f"git+{url}"]
    return wanted


def check(root: Path = ROOT) -> list[str]:
    """Every file (and missing string) that disagrees with _config.yml."""
    return [
        f"{path.relative_to(root)}: lacks {text}"
        for path, texts in copies(root).items()
        for text in texts
        if text not in path.read_text()
    ]


def set_url(new: str, root: Path = ROOT) -> list[Path]:
    """Write `new` into _config.yml and every copy; the files changed."""
    match = URL.match(new)
    if not match:
        raise SystemExit(
            f"set_repository: expected https://github.com/OWNER/NAME, got {new}"
        )
    new = f"https://github.com/{match.group(1)}/{match.group(2)}"
    old = configured(root)
    config = root / "_config.yml"
    config.write_text(
        CONFIG_LINE.sub(lambda m: m.group(1) + new, config.read_text(), 1)
    )
    # one pass, whole names only (NAME must not match the start of NAME-fork)
    swap = {
        pages_url(old): pages_url(new),
        colab_path(old): colab_path(new),
        old: new,
    }
    pattern = re.compile(
        "|".join(
            re.escape(u) + ("" if u.endswith("/") else r"(?![\w-])")
            for u in swap
        )
    )
    changed = [config]
    for path in copies(root):
        text = path.read_text()
        result = pattern.sub(lambda m: swap[m.group(0)], text)
        if result != text:
            path.write_text(result)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/NAME")
    parser.add_argument("--check", action="store_true")
    parser.add_argument(
        "--install-cells",
        action="store_true",
        help="write INSTALL_CELL as every chapter's first cell",
    )
    args = parser.parse_args(argv)
    if args.url:
        for path in set_url(args.url, root):
            print(f"set_repository: wrote {path.relative_to(root)}")
    if args.install_cells:
        for path in set_install_cells(root):
            print(f"set_repository: wrote {path.relative_to(root)}")
    problems = check(root)
    for problem in problems:
        print(f"set_repository: {problem}")
    if not problems:
        print(f"set_repository: every copy names {configured(root)}")
    return int(bool(problems))


if __name__ == "__main__":
    sys.exit(main())
