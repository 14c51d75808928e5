"""The one reader of the book's configuration (_config.yml, _toc.yml)."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "tools" / "assignments.toml"


def config(root: Path = ROOT) -> dict:
    """_config.yml as a dict."""
    return yaml.safe_load((root / "_config.yml").read_text()) or {}


def settings(root: Path = ROOT) -> dict:
    """tools/assignments.toml: points, code-only questions, the package."""
    return tomllib.loads((root / "tools" / "assignments.toml").read_text())


def _files(entries) -> list[str]:
    """Every `file:` of a _toc.yml subtree, in order."""
    found: list[str] = []
    for entry in entries or []:
        if isinstance(entry, dict):
            if "file" in entry:
                found.append(str(entry["file"]))
            for key in ("parts", "chapters", "sections"):
                found += _files(entry.get(key))
    return found


def toc_files(root: Path = ROOT) -> list[str]:
    """The pages of _toc.yml in reading order (root first)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    return (
        [str(toc.get("root", ""))]
        + _files(toc.get("parts", []))
        + _files(toc.get("chapters", []))
    )


def chapters(root: Path = ROOT, folder: str = "chapters") -> list[Path]:
    """The chapter sources (chapters/<name>.md) in the table of contents'
    order; a chapter file missing from _toc.yml comes last, by name."""
    listed = [
        root / f"{f}.md" for f in toc_files(root) if f.startswith(f"{folder}/")
    ]
    listed = [p for p in listed if p.exists()]
    rest = sorted(set((root / folder).glob("*.md")) - set(listed))
    return listed + rest


def macros(root: Path = ROOT) -> dict[str, str]:
    """The TeX macros that _config.yml gives MathJax (Jupyter lacks them)."""
    try:
        found = config(root)["sphinx"]["config"]["mathjax3_config"]["tex"][
            "macros"
        ]
    except (KeyError, TypeError):
        return {}
    return {k: v if isinstance(v, str) else v[0] for k, v in found.items()}


def repository(root: Path = ROOT) -> tuple[str, str, str]:
    """(GitHub URL, branch, path to the book) from _config.yml."""
    repo = config(root).get("repository", {})
    url = str(repo["url"]).rstrip("/").removesuffix(".git")
    return url, repo.get("branch", "main"), repo.get("path_to_book", "")


def colab_url(relative: str, root: Path = ROOT) -> str:
    """Colab's address of a notebook of the book's repository."""
    url, branch, book = repository(root)
    path = "/".join(p for p in (book.strip("/"), relative) if p)
    github = url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{github}/blob/{branch}/{path}"


def student_package(root: Path = ROOT) -> str:
    """What the student notebooks' set-up cell installs: the student wheel
    (hwlib.check and the neutral tools, no answers), at the address named
    once, in tools/assignments.toml ([student] wheel_url; {repository} and
    {version} are filled in from _config.yml and hwlib.__version__)."""
    template = settings(root)["student"]["wheel_url"]
    url, _, _ = repository(root)
    return template.format(repository=url, version=version(root))


def version(root: Path = ROOT) -> str:
    """hwlib.__version__, read from the source (nothing imported)."""
    for line in (root / "hwlib" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise ValueError("hwlib/__init__.py has no __version__")
