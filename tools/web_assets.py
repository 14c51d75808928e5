"""Fetch the book's JavaScript (MathJax 3, RequireJS, the ipywidgets HTML manager) into _vendor/,
so that the built HTML renders math and widgets with no network; copy plotly.js there from the
installed plotly package (the explorers of hwlib.explorers load it from _static/plotly/).

_vendor/ is an extra Sphinx static path (its files land in _build/html/_static/). It is not
_static/ on purpose: Jupyter Book adds every .js file under _static/ to every page.

axe-core (the accessibility audit of tests/test_browser.py) goes to _vendor_test/ instead: the
browser test injects it into each page; it is not part of the book.

Run by `make book` before the build. The packages come from the npm registry (`npm pack`). When
they cannot be fetched (no npm, no registry), each expected file is written as a small shim that
loads the same file from a public CDN instead, so the book still works online.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "_vendor"
TEST_VENDOR = (
    ROOT / "_vendor_test"
)  # for the tests only, not a static path of the book

# npm package -> (folder inside the package, where it goes, entry file, CDN URL of the entry)
# Only what the pages load is kept (MathJax's TeX-to-HTML component and its fonts, the AMD build of
# the widget manager with its fonts, RequireJS): a few MB instead of tens.
KEEP = {
    "mathjax": (
        "tex-chtml.js",
        "output/chtml/fonts/woff-v2/",
        "input/tex/extensions/",
    ),
    "requirejs": ("require.js",),
    "html-manager": ("embed-amd.js", ".woff", ".woff2"),
    "axe-core": ("axe.min.js", "LICENSE"),
}
PACKAGES = {
    "mathjax@3.2.2": (
        "package/es5",
        VENDOR / "mathjax",
        "tex-chtml.js",
        "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-chtml.js",
    ),
    "requirejs@2.3.8": (
        "package",
        VENDOR / "requirejs",
        "require.js",
        "https://cdn.jsdelivr.net/npm/requirejs@2.3.8/require.js",
    ),
    "@jupyter-widgets/html-manager@1.0.15": (
        "package/dist",
        VENDOR / "html-manager",
        "embed-amd.js",
        "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.15/dist/embed-amd.js",
    ),
    "axe-core@4.14.1": (
        "package",
        TEST_VENDOR / "axe-core",
        "axe.min.js",
        None,  # no shim: the browser test needs the file itself
    ),
}
STAMP = VENDOR / ".complete"


def fetch(spec: str, inner: str, target: Path, workdir: Path) -> None:
    result = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        keep = KEEP[target.name]
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(inner + "/")
            and m.isfile()
            and any(
                m.name[len(inner) + 1 :].startswith(k) or m.name.endswith(k)
                for k in keep
            )
        ]
        tar.extractall(workdir / target.name, members=members, filter="data")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(workdir / target.name / inner, target)


def write_shim(target: Path, entry: str, url: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / entry).write_text(
        f"document.write('<script src=\"{url}\"></script>');\n"
    )


def copy_plotly() -> None:
    """plotly.js, the same version that the installed plotly writes figures for."""
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = VENDOR / "plotly" / "plotly.min.js"
    if not (
        target.exists()
        and target.stat().st_size == source.stat().st_size
        and target.read_bytes() == source.read_bytes()
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def main() -> int:
    copy_plotly()
    if (
        STAMP.exists()
        and STAMP.read_text() == repr(sorted(PACKAGES))
        and all(
            (target / entry).exists()
            for _, target, entry, _ in PACKAGES.values()
        )
    ):
        return 0  # already fetched
    VENDOR.mkdir(parents=True, exist_ok=True)
    offline = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, (inner, target, entry, url) in PACKAGES.items():
            try:
                fetch(spec, inner, target, Path(tmp))
            except (
                OSError,
                subprocess.SubprocessError,
                tarfile.TarError,
            ) as err:
                offline.append(spec)
                if url is None:
                    print(
                        f"web_assets: could not fetch {spec} ({type(err).__name__}); "
                        "the browser test needs it"
                    )
                    continue
                print(
                    f"web_assets: could not fetch {spec} ({type(err).__name__}); the book will load it from {url}"
                )
                write_shim(target, entry, url)
    if not offline:
        STAMP.write_text(repr(sorted(PACKAGES)))
    print(
        f"web_assets: {len(PACKAGES) - len(offline)} of {len(PACKAGES)} packages served from _vendor"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
