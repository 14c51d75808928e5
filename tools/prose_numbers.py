"""Numbers typed into the book's prose, which should come from the run.

    python tools/prose_numbers.py                 # every page: list, exit 1
    python tools/prose_numbers.py chapters/X.md   # some pages

The book's rule: a number that reports a result is inserted by myst-nb's
glue ({glue:text}`name`), never typed. This tool reads a page's prose (the
MyST source without code cells, code blocks, math, roles such as glue, cite
and ref, inline code, links' addresses, labels and comments) and lists every
number left in it, written in digits or as a word from eleven up, unless an
entry of the allow-list below covers it. A lone digit 0 to 9 passes (step
numbers, strides, the small constants of the problems), but not as a
percentage: "8 %", "0.5" and "12" are reported. tests/test_book.py runs it on every
page and fails on what it finds.

The allow-list is short and explicit: constants of the problem sets,
question and section numbers, the courses' names, years, names with a
number (CIFAR-10), and figures quoted from a cited paper. Anything the book
chooses (a setting) or measures is glued. Math ($...$) is not scanned: it
restates the problems and their derivations.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Allowed everywhere: (pattern, why). Matched text is not scanned.
ALLOWED = [
    (r"\b(?:Fall|Spring|ECCV|ICLR|ICML|CVPR|NeurIPS) (?:19|20)\d\d\b", "year"),
    (r"\b6\.7960\b|\bCS (?:4803/)?7643\b|\bProblem Set 2\b", "course"),
    (r"(?i:\bquestions? \d+(?: to \d+)?)|§\d+(?:\.\d+)*", "question"),
    (r"\b[A-Za-z]+-\d+\w*", "name with a number, e.g. CIFAR-10"),
    (r"\b30 epochs|\bThirty epochs", "MIT Q12 and Q15 train for 30 epochs"),
    (r"\b32×32\b", "CIFAR-10's image size"),
    (r"\b(?:of|out of) 255\b", "the 8-bit pixel scale"),
    (r"(?m)^#+ \d+\.", "numbered heading"),
]

# Allowed on one page only: page -> [(pattern, why)].
ALLOWED_ON = {
    "chapters/paper_review.md": [
        (r"\b350 words", "the problem set's word limit"),
        (r"3\.5 billion|85\.4 %|97\.6 %|1\.5k|17k", "Mahajan et al. (2018)"),
        (r"\b100 randomly|above 90 %", "Rolnick et al. (2017)"),
    ],
}

WORDS = (
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
    r"nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|dozen"
)
NUMBER = re.compile(
    r"(?<![\w.])\d[\w.,]*\w|(?<![\w.])\d|\b(?:" + WORDS + r")\b", re.I
)
# Directives whose argument is prose (a title); others take labels, paths.
TITLED = {"exercise-start", "exercise", "admonition", "note", "warning", "tip"}
FENCE = re.compile(r"^(`{3,}|:{3,})\s*(\{([\w-]+)\})?\s*(.*)$")


def _blank(match: re.Match) -> str:
    """Remove a match but keep its line breaks (line numbers stay right)."""
    return " " + "\n" * match.group().count("\n")


def _lines_outside_code(text: str) -> list[str]:
    """The lines of `text` with code fences and code cells blanked.

    MyST directive fences (```{name} ...) hold prose and stay, without
    their option lines (:label: ...) and, but for titled directives, their
    argument; any other fence (code, {code-cell}) is blanked whole.
    """
    lines, stack = text.split("\n"), []  # stack of (fence, is_code)
    out = []
    for line in lines:
        fence = FENCE.match(line.strip())
        in_code = any(code for _, code in stack)
        closing = fence and not fence.group(2) and not fence.group(4)
        if closing and stack and fence.group(1) == stack[-1][0]:
            stack.pop()
            out.append("")
            continue
        if in_code:
            out.append("")
        elif fence and fence.group(1):
            name = fence.group(3)
            stack.append((fence.group(1), name is None or name == "code-cell"))
            out.append(fence.group(4) if name in TITLED else "")
        elif re.match(r"^\s*:[\w-]+:", line):
            out.append("")  # a directive's option
        else:
            out.append(line)
    return out


def prose(text: str) -> str:
    """The prose of a MyST page, same lines, everything else blanked."""
    text = re.sub(r"\A---\n.*?\n---\n", _blank, text, flags=re.S)
    text = "\n".join(_lines_outside_code(text))
    blanked = [
        r"<!--.*?-->",  # comments
        r"\$\$.*?\$\$",  # display math
        r"(?<![\\$])\$[^$\n]+\$",  # inline math
        r"\{[\w:-]+\}`[^`]*`",  # roles: glue, cite, ref, doc, ...
        r"`(?![\d.,%\s]+`)[^`\n]+`",  # inline code, unless just a number
        r"<[^>\n]+>",  # autolinks and HTML tags
        r"(?<=\])\([^)\s]*\)",  # a link's address (its text stays)
        r"https?://\S+",
        r"(?m)^\([\w-]+\)=\s*$",  # labels
        r"(?m)^\+\+\+.*$",  # jupytext's cell breaks and their metadata
    ]
    for pattern in blanked:
        text = re.sub(pattern, _blank, text, flags=re.S)
    return text


def typed_numbers(
    text: str, allowed: list[tuple[str, str]] = ()
) -> list[tuple[int, str, str]]:
    """(line number, number, line) for each number left in the prose."""
    text = prose(text)
    for pattern, _ in [*ALLOWED, *allowed]:
        text = re.sub(pattern, _blank, text)
    return [
        (i, m.group(), line.strip())
        for i, line in enumerate(text.split("\n"), 1)
        for m in NUMBER.finditer(line)
        if not _lone_digit(m, line)
    ]


def _lone_digit(match: re.Match, line: str) -> bool:
    """A single digit that is not a percentage."""
    after = line[match.end() :]
    return len(match.group()) == 1 and not re.match(r"\s*%", after)


def pages(root: Path = ROOT) -> list[Path]:
    """The pages whose prose is scanned: chapters, results and intro."""
    return [
        *sorted((root / "chapters").glob("*.md")),
        root / "results.md",
        root / "intro.md",
    ]


def scan(path: Path, root: Path = ROOT) -> list[str]:
    """One line per typed number of page `path`: 'page:line: number | ...'."""
    name = path.resolve().relative_to(root).as_posix()
    found = typed_numbers(path.read_text(), ALLOWED_ON.get(name, []))
    return [f"{name}:{i}: {n!r} in: {line}" for i, n, line in found]


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or pages()
    found = [hit for path in paths for hit in scan(path)]
    print("\n".join(found) or "no typed numbers")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
