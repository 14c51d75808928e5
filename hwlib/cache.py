"""Files that save work between runs: decoded datasets and trained models.

Four rules keep a cache from ever costing work:

* a cache is written to a temporary file in the same folder and renamed
  into place, so a run killed while writing leaves no half-written file
  under the final name; a write that fails or is interrupted (an error,
  Ctrl-C) removes its temporary file, and one left by a killed writer
  (SIGKILL, a power cut) is swept by the next writer or reader of that
  folder once its writer has gone (`sweep_orphans`);
* hwlib deletes or overwrites only files it wrote: every file it writes is
  recorded, with the family it belongs to, in the folder's manifest
  `.hwlib-cache.json`; a file not recorded there (a user's own
  `cnn-my-best-model.pt`, say) is never touched, even at a path hwlib
  would like to use (then it warns and does not cache);
* a cache that cannot be read is reported by path; when hwlib wrote it, it
  is deleted and rebuilt by the caller. A cache that reads back as an
  intact file but holds something unexpected is reported and left alone;
* a cache that cannot be written is a warning, never an error: the caller
  returns its result anyway (decoded images or a trained model are never
  thrown away).

Where caches live: `$HWLIB_CACHE`, else `~/.cache/hwlib` (an empty variable
counts as unset, and `~` is expanded). The decoded CIFAR-10 cache sits
beside the image folders when that folder is writable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

CACHE_ENV_VAR = "HWLIB_CACHE"
MANIFEST = ".hwlib-cache.json"
"""The file, in each cache folder, that lists what hwlib wrote there."""

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)\.")
_FOREIGN_HOST_AGE = 24 * 3600  # seconds; a writer elsewhere cannot be asked


def env_path(name: str) -> Path | None:
    """The path in environment variable `name`, `~` expanded; None when the
    variable is unset or empty."""
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """`$HWLIB_CACHE`, else `~/.cache/hwlib`."""
    return env_path(CACHE_ENV_VAR) or Path.home() / ".cache" / "hwlib"


# --- the manifest: what hwlib wrote in a folder ---


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on `folder` (flock; no lock where there is none)."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def manifest(folder: str | os.PathLike) -> dict[str, str]:
    """{file name: family} of the files hwlib wrote in `folder` (empty when
    there is no readable manifest)."""
    try:
        files = json.loads((Path(folder) / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(v, str)}


def _update_manifest(folder: Path, add: dict, remove: set) -> None:
    """Record `add` ({name: family}) and forget `remove` (names), under the
    folder's lock; names whose files are gone are forgotten too."""
    with _locked(folder):
        files = manifest(folder)
        files.update(add)
        files = {
            name: family
            for name, family in files.items()
            if name not in remove and (folder / name).is_file()
        }
        text = json.dumps({"files": files}, indent=1, sort_keys=True)
        fd, temp = tempfile.mkstemp(
            prefix=_temp_prefix(MANIFEST), suffix=".tmp", dir=folder
        )
        try:
            with os.fdopen(fd, "w") as file:
                file.write(text)
            os.replace(temp, folder / MANIFEST)
        finally:
            Path(temp).unlink(missing_ok=True)


def owned(path: str | os.PathLike) -> bool:
    """Whether hwlib's manifest records `path` as a file it wrote."""
    path = Path(path)
    return path.name in manifest(path.parent)


# --- temporaries ---


def _temp_prefix(name: str) -> str:
    """.<name>.<host>-<pid>. : names the writer, so others can tell whether
    it is still running."""
    return f".{name}.{_HOST}-{os.getpid()}."


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, someone else's
        return True
    return True


def _orphan(path: Path) -> bool:
    match = _TEMP.match(path.name)
    if match is None or not path.name.endswith(".tmp"):
        return False
    try:
        modified = path.stat().st_mtime
    except OSError:
        return False
    if match["host"] != _HOST:
        return time.time() - modified > _FOREIGN_HOST_AGE
    pid = int(match["pid"])
    return pid != os.getpid() and not _running(pid)


def sweep_orphans(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries left in `folder` by writers that were killed.

    A temporary is hwlib's when named .<name>.<host>-<pid>.<random>.tmp; it
    is an orphan when its writer (that pid on this host) is no longer
    running (written on another host: when older than a day). A live
    writer's temporary is never touched. Returns the deleted paths.
    """
    folder = Path(folder)
    removed = []
    with contextlib.suppress(OSError):
        for path in folder.glob(".*.tmp"):
            if _orphan(path):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


# --- writing and reading ---


def _warn_unwritten(path: Path, reason: str) -> None:
    warnings.warn(
        f"hwlib could not write the cache {path} ({reason}); the result is "
        f"returned but not cached. Set ${CACHE_ENV_VAR} to a writable folder "
        "to keep it.",
        stacklevel=3,
    )


def save_atomic(
    obj: object, path: str | os.PathLike, *, family: str = ""
) -> bool:
    """`torch.save(obj)` to `path` via a temporary file and a rename, and
    record `path` (with `family`, see `remove_stale`) in the manifest.

    Returns True when saved. Returns False with a warning (naming the path
    and the reason) when the file cannot be written, when `obj` cannot be
    saved, or when `path` holds a file hwlib did not write (it is left
    as is), so that the caller can still return what it computed. The
    temporary file never outlives a failure: it is removed on any error
    and on KeyboardInterrupt (which is then raised again). The file gets
    the permissions the umask allows.
    """
    path = Path(path)
    temp = None
    try:
        if path.parent.exists() and not path.parent.is_dir():
            raise NotADirectoryError(f"{path.parent} is a file, not a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_orphans(path.parent)
        if path.exists() and not owned(path):
            _warn_unwritten(
                path, "a file hwlib did not write is there; it is left as is"
            )
            return False
        fd, temp = tempfile.mkstemp(
            prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent
        )
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(temp, path)
        temp = None
    except Exception as error:  # OSError, pickling errors, ...
        _warn_unwritten(path, f"{type(error).__name__}: {error}")
        return False
    finally:  # also on KeyboardInterrupt, which propagates
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # unrecorded: kept, never replaced
        _update_manifest(path.parent, {path.name: family}, set())
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _intact(path: Path) -> bool:
    """Whether `path` is a whole zip archive (torch.save's format) whose
    every member passes its CRC check."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def load_or_discard(
    path: str | os.PathLike, map_location=None
) -> object | None:
    """The object saved at `path`; None when absent or unreadable.

    An unreadable file is warned about by path. A damaged one (not a whole
    archive) is deleted when hwlib wrote it; an intact one that holds
    something torch will not load safely (numpy values, code) is left as
    is. Orphaned temporaries in the folder are swept first.
    """
    path = Path(path)
    sweep_orphans(path.parent)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # damaged files fail many ways (zip, EOF)
        reason = f"{type(error).__name__}: {str(error)[:200]}"
    if _intact(path):
        what, fate = "an unexpected cache", "it is left as is"
    elif owned(path):
        what, fate = "a damaged cache", "it is removed and will be rebuilt"
        with contextlib.suppress(OSError):  # a read-only folder keeps it
            path.unlink()
    else:
        what = "a damaged file"
        fate = "hwlib did not write it, so it is left as is"
    warnings.warn(
        f"hwlib found {what} {path} ({reason}); {fate}.", stacklevel=2
    )
    return None


def unexpected(path: str | os.PathLike, problem: str) -> None:
    """Warn that the cache at `path` loaded but holds the wrong thing; the
    file is kept (the caller rebuilds, and overwrites it only if hwlib
    wrote it)."""
    warnings.warn(
        f"hwlib found an unexpected cache {path} ({problem}); it is not "
        "used, and is replaced only if hwlib wrote it.",
        stacklevel=3,
    )


def remove_stale(
    folder: str | os.PathLike,
    keep: str | os.PathLike,
    is_stale: Callable[[str], bool],
) -> list[Path]:
    """Delete the files in `folder` that hwlib wrote (the manifest says so)
    and whose family is stale (`is_stale(family)` is True), except `keep`;
    returns the deleted paths. Files not in the manifest are never touched.
    """
    folder, keep = Path(folder), Path(keep)
    removed = []
    if not folder.is_dir():
        return removed
    for name, family in manifest(folder).items():
        path = folder / name
        if name == keep.name or not is_stale(family) or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    if removed:
        with contextlib.suppress(OSError):
            _update_manifest(folder, {}, {p.name for p in removed})
    return removed
