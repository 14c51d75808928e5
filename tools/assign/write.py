"""Write generated files only over what the generator wrote itself.

assignments/.generated.json records the SHA-256 of each file as last
written. A file that differs from its record was edited by hand: it is
kept, and the run stops with its name, unless `force`, which first copies
it to <name>.edited (never overwriting an older copy).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = ".generated.json"


class EditedFile(RuntimeError):
    """A file to regenerate was changed since it was generated."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def edited(path: Path) -> bool:
    """Whether `path` exists and differs from what was last written there
    (a file never recorded counts as edited unless it is empty)."""
    if not path.exists():
        return False
    recorded = _manifest(path.parent).get(path.name)
    return digest(path.read_text()) != recorded


def backup(path: Path) -> Path:
    """Copy `path` to a free name <name>.edited[.N]; the copy's path."""
    target = path.with_name(path.name + ".edited")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.edited.{n}")
    target.write_bytes(path.read_bytes())
    return target


def write(path: Path, text: str, *, force: bool = False) -> Path | None:
    """Write `text` to `path`; the backup's path when one was made.

    Raises EditedFile when the file was edited and `force` is not set."""
    made = None
    if path.exists() and path.read_text() != text and edited(path):
        if not force:
            raise EditedFile(
                f"{path} was edited since make assignments wrote it; "
                "nothing was written. Move your copy away, or run again "
                "with --force (it keeps yours as .edited)"
            )
        made = backup(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    manifest = _manifest(path.parent)
    manifest[path.name] = digest(text)
    (path.parent / MANIFEST).write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    )
    return made
