"""Files that save work between runs: decoded datasets and trained models.

Three rules keep a cache from ever costing work:

* a cache is written to a temporary file in the same folder and renamed
  into place, so a run killed while writing leaves no half-written file
  under the final name;
* a cache that cannot be read is reported by path, deleted, and rebuilt by
  the caller;
* a cache that cannot be written is a warning, never an error: the caller
  returns its result anyway (decoded images or a trained model are never
  thrown away).

Where caches live: `$HWLIB_CACHE`, else `~/.cache/hwlib` (an empty variable
counts as unset, and `~` is expanded). The decoded CIFAR-10 cache sits
beside the image folders when that folder is writable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import torch

CACHE_ENV_VAR = "HWLIB_CACHE"


def env_path(name: str) -> Path | None:
    """The path in environment variable `name`, `~` expanded; None when the
    variable is unset or empty."""
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """`$HWLIB_CACHE`, else `~/.cache/hwlib`."""
    return env_path(CACHE_ENV_VAR) or Path.home() / ".cache" / "hwlib"


def save_atomic(obj: object, path: str | os.PathLike) -> bool:
    """`torch.save(obj)` to `path` via a temporary file and a rename.

    Returns True when saved; on failure warns (naming the path and the
    reason) and returns False, so that the caller can still return what it
    computed. The file gets the permissions the umask allows.
    """
    path = Path(path)
    temp = None
    try:
        if path.parent.exists() and not path.parent.is_dir():
            raise NotADirectoryError(f"{path.parent} is a file, not a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(temp, path)
        return True
    except (OSError, RuntimeError) as error:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        warnings.warn(
            f"hwlib could not write the cache {path} ({error}); the result "
            f"is returned but not cached. Set ${CACHE_ENV_VAR} to a "
            "writable folder to keep it.",
            stacklevel=2,
        )
        return False


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_or_discard(
    path: str | os.PathLike, map_location=None
) -> object | None:
    """The object saved at `path`; None when absent, or when unreadable
    (then warned about by path, and deleted)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # damaged files fail many ways (zip, EOF)
        warnings.warn(
            f"hwlib found a damaged cache {path} ({type(error).__name__}: "
            f"{error}); it is removed and will be rebuilt.",
            stacklevel=2,
        )
        with contextlib.suppress(OSError):  # a read-only folder keeps it
            path.unlink()
        return None


def remove_stale(
    folder: str | os.PathLike, pattern: str, keep: str | os.PathLike
) -> list[Path]:
    """Delete the files in `folder` matching the glob `pattern`, except
    `keep`; returns the deleted paths."""
    folder, keep = Path(folder), Path(keep)
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.glob(pattern):
        if path.resolve() != keep.resolve() and path.is_file():
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed
