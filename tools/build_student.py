"""Build the student package (`make student`): a wheel named hwlib that holds
hwlib.check and the neutral tools, and none of the modules that hold answers.

    python tools/build_student.py            # _build/student/hwlib-<v>-py3-none-any.whl
    python tools/build_student.py --out DIR

Which modules it ships is the one table tools/assign/modules.py (NEUTRAL).
The wheel is written directly (a zip with its metadata), so building needs
neither a network nor a build backend; the same sources give the same bytes.
The student notebooks install it from the address in tools/assignments.toml.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import zipfile
from pathlib import Path

import tomllib
from assign import book, modules

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible archives


def module_files(root: Path = book.ROOT) -> list[Path]:
    """The source files of the NEUTRAL modules, relative to root."""
    files: list[Path] = []
    for name in sorted(modules.NEUTRAL):
        parts = name.split(".")
        if len(parts) == 1:
            files.append(Path(*parts, "__init__.py"))
            continue
        package = root.joinpath(*parts)
        if package.is_dir():
            files += sorted(
                p.relative_to(root)
                for p in package.rglob("*.py")
                if "__pycache__" not in p.parts
            )
        elif package.with_suffix(".py").exists():
            files.append(Path(*parts[:-1], parts[-1] + ".py"))
        else:
            raise FileNotFoundError(
                f"{name}: neither {package}.py nor a package"
            )
    return files


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return f"{path},sha256={digest.rstrip(b'=').decode()},{len(data)}"


def metadata(version: str, root: Path = book.ROOT) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    lines = [
        "Metadata-Version: 2.1",
        "Name: hwlib",
        f"Version: {version}",
        "Summary: hwlib for students: the checks and the data tools, "
        "without the reference answers",
        f"Requires-Python: {project.get('requires-python', '>=3.10')}",
    ]
    lines += [f"Requires-Dist: {d}" for d in project["dependencies"]]
    return "\n".join(lines) + "\n"


def build(out: Path, root: Path = book.ROOT) -> Path:
    """Write the wheel into `out`; its path."""
    version = book.version(root)
    info = f"hwlib-{version}.dist-info"
    entries = {
        str(p.as_posix()): (root / p).read_bytes() for p in module_files(root)
    }
    entries[f"{info}/METADATA"] = metadata(version, root).encode()
    entries[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tools/build_student.py\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries[f"{info}/top_level.txt"] = b"hwlib\n"
    record = [_record_line(p, d) for p, d in entries.items()]
    entries[f"{info}/RECORD"] = (
        "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    ).encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"hwlib-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            item = zipfile.ZipInfo(path, FIXED_TIME)
            item.compress_type = zipfile.ZIP_DEFLATED
            item.external_attr = 0o644 << 16
            archive.writestr(item, data)
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=book.ROOT / "_build" / "student"
    )
    args = parser.parse_args(argv)
    wheel = build(args.out)
    print(f"student package: {wheel}")
    print(f"publish it where the notebooks look: {book.student_package()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
