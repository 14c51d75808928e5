"""Write a student notebook per chapter (`make assignments`).

    python tools/make_assignments.py                 # assignments/<chapter>.ipynb
    python tools/make_assignments.py --source DIR    # also nbgrader sources
    python tools/make_assignments.py --check         # exit 1 if out of date
    python tools/make_assignments.py --force         # over hand edits (kept)

What the student sees is an allow-list (tools/assign/select.py): each
chapter's questions and the cells it tags `student`, and the code cells of
tools/answers/<chapter>.py, with each reference answer replaced by a stub.
The stages are the modules of tools/assign/. The notebooks use nbgrader's
format: `nbgrader generate_assignment` releases exactly the student notebook
from the source notebook written with --source, whose check cells end with a
hidden `assert report.passed`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assign import book, index, notebook, write

OUTPUT = book.ROOT / "assignments"
INDEX = book.ROOT / "assignments.md"


def generate(
    *,
    source: bool = False,
    folder: Path | None = None,
    answers: Path | None = None,
    settings: dict | None = None,
):
    """[(chapter path, notebook text or None, Summary)] in the table of
    contents' order (for a folder other than chapters/, by name)."""
    if folder is None:
        paths = book.chapters()
    else:
        if not folder.is_dir():
            raise SystemExit(
                f"make_assignments: --chapters {folder}: no such folder"
            )
        paths = sorted(folder.glob("*.md"))
        if not paths:
            raise SystemExit(
                f"make_assignments: --chapters {folder}: no chapter "
                "(*.md) there"
            )
    result = []
    for path in paths:
        nb, summary = notebook.build(
            path,
            source=source,
            answers=answers / f"{path.stem}.py" if answers else None,
            settings=settings,
        )
        result.append(
            (path, notebook.render(nb) if nb is not None else None, summary)
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="also write nbgrader source notebooks "
        "DIR/<chapter>/<chapter>.ipynb (with the reference answers)",
    )
    parser.add_argument(
        "--chapters",
        type=Path,
        help="another folder of chapter sources (default: the book's)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if --out is out of date",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate hand-edited notebooks too (kept as .edited)",
    )
    args = parser.parse_args(argv)
    generated = generate(folder=args.chapters)
    made = [(p, t, s) for p, t, s in generated if t is not None]
    if not made:
        raise SystemExit("make_assignments: no chapter has questions")
    stale = []
    page = index.page([(p, s) for p, _, s in made])
    if args.out == OUTPUT and args.chapters is None:  # the book's page
        if args.check:
            if not INDEX.exists() or INDEX.read_text() != page:
                stale.append(str(INDEX))
        else:
            INDEX.write_text(page)
    for path, text, summary in generated:
        target = args.out / f"{path.stem}.ipynb"
        if args.check:
            if text is not None and (
                not target.exists() or target.read_text() != text
            ):
                stale.append(str(target))
            continue
        if text is None:
            print(f"{path.stem}: no questions, no notebook")
            continue
        try:
            kept = write.write(target, text, force=args.force)
        except write.EditedFile as error:
            print(f"make_assignments: {error}", file=sys.stderr)
            return 1
        print(summary)
        if kept:
            print(f"  your edited copy is kept as {kept}")
        if summary.labels:
            print(
                f"  WARNING: tools/answers/{path.stem}.py has cells for "
                f"labels the chapter lacks: {summary.labels}"
            )
    if args.source:
        for path, text, _ in generate(source=True, folder=args.chapters):
            if text is not None:
                folder = args.source / path.stem
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{path.stem}.ipynb").write_text(text)
        print(f"nbgrader sources in {args.source}")
    if stale:
        print("out of date (run make assignments):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
