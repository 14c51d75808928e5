import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hwlib import cache
from hwlib.cache import (
    MANIFEST,
    cache_dir,
    env_path,
    load_or_discard,
    manifest,
    owned,
    remove_stale,
    save_atomic,
    sweep_orphans,
)


def test_cache_dir_env_var_empty_means_unset_and_tilde_expands(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HWLIB_CACHE", "")
    assert cache_dir() == tmp_path / ".cache" / "hwlib"
    monkeypatch.setenv("HWLIB_CACHE", "   ")
    assert cache_dir() == tmp_path / ".cache" / "hwlib"
    monkeypatch.setenv("HWLIB_CACHE", "~/models")
    assert cache_dir() == tmp_path / "models"
    monkeypatch.delenv("HWLIB_CACHE")
    assert env_path("HWLIB_CACHE") is None


def test_save_atomic_round_trip_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "x.pt"
    assert save_atomic({"a": torch.arange(3)}, path) is True
    assert torch.equal(load_or_discard(path)["a"], torch.arange(3))
    assert sorted(p.name for p in path.parent.iterdir()) == [MANIFEST, "x.pt"]
    assert owned(path) and manifest(path.parent) == {"x.pt": ""}


def test_a_write_killed_halfway_leaves_the_old_file_intact(
    monkeypatch, tmp_path
):
    path = tmp_path / "x.pt"
    save_atomic({"v": torch.zeros(2)}, path)
    real_save = torch.save

    def dies_halfway(obj, file):
        file.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.torch, "save", dies_halfway)
    with pytest.warns(UserWarning, match=r"could not write the cache .*x\.pt"):
        assert save_atomic({"v": torch.ones(2)}, path) is False
    monkeypatch.setattr(cache.torch, "save", real_save)
    assert torch.equal(load_or_discard(path)["v"], torch.zeros(2))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [MANIFEST, "x.pt"]  # no temporary left


@pytest.mark.parametrize("where", ["parent_is_a_file", "read_only"])
def test_unwritable_cache_is_a_warning_not_an_error(
    monkeypatch, tmp_path, where
):
    if where == "parent_is_a_file":
        (tmp_path / "file").write_text("not a folder")
        path = tmp_path / "file" / "x.pt"
    else:  # the test runs as root, so simulate a refusing file system

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(cache.tempfile, "mkstemp", refuse)
        path = tmp_path / "x.pt"
    with pytest.warns(UserWarning, match=str(path).replace("\\", "/")):
        assert save_atomic({"v": 1}, path) is False
    assert not path.exists()


@pytest.mark.parametrize(
    "content", [b"", b"garbage" * 10, b"PK\x03\x04truncated zip", "cut"]
)
def test_damaged_cache_hwlib_wrote_is_named_removed_and_absent(
    tmp_path, content
):
    """The kinds of damage (the data and model caches each test one, end to
    end): empty, not a zip, a zip header only, a real cache cut short."""
    path = tmp_path / "hwlib-cifar10-x.pt"
    save_atomic({"x": torch.arange(1000)}, path)
    if content == "cut":  # a write that stopped halfway
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.warns(UserWarning, match=r"damaged cache .*hwlib-cifar10-x"):
        assert load_or_discard(path) is None
    assert not path.exists()


def test_damaged_file_hwlib_did_not_write_is_reported_and_kept(tmp_path):
    path = tmp_path / "cnn-0123.pt"
    path.write_bytes(b"my notes")
    with pytest.warns(UserWarning, match="hwlib did not write it"):
        assert load_or_discard(path) is None
    assert path.read_bytes() == b"my notes"


def test_intact_file_with_unexpected_content_is_reported_not_deleted(
    tmp_path,
):
    """numpy values load only with weights_only=False: the file is whole,
    so it is reported and kept, even when hwlib wrote it."""
    path = tmp_path / "x.pt"
    assert save_atomic({"v": np.zeros(3)}, path)
    with pytest.warns(UserWarning, match=r"unexpected cache .*x\.pt"):
        assert load_or_discard(path) is None
    assert path.is_file() and owned(path)


def test_a_file_hwlib_did_not_write_is_never_overwritten(tmp_path):
    path = tmp_path / "cnn-my-best-model.pt"
    torch.save({"mine": torch.ones(2)}, path)
    with pytest.warns(UserWarning, match="a file hwlib did not write"):
        assert save_atomic({"mine": torch.zeros(2)}, path) is False
    assert torch.equal(torch.load(path)["mine"], torch.ones(2))
    assert not owned(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_absent_file_loads_as_none_without_warning(tmp_path, recwarn):
    assert load_or_discard(tmp_path / "missing.pt") is None
    assert len(recwarn) == 0


def test_remove_stale_deletes_only_stale_files_hwlib_wrote(tmp_path):
    for name, family in (("c-1.pt", "old"), ("c-2.pt", "new")):
        save_atomic({"v": 1}, tmp_path / name, family=family)
    save_atomic({"v": 1}, tmp_path / "c-3.pt", family="new")
    for name in ("c-4.pt", "cnn-my-best-model.pt", "other.pt"):
        (tmp_path / name).write_bytes(b"x")  # not hwlib's
    removed = remove_stale(tmp_path, tmp_path / "c-2.pt", "new".__ne__)
    assert [p.name for p in removed] == ["c-1.pt"]
    removed = remove_stale(tmp_path, tmp_path / "c-2.pt", "new".__eq__)
    assert [p.name for p in removed] == ["c-3.pt"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [MANIFEST, "c-2.pt", "c-4.pt", "cnn-my-best-model.pt",
                    "other.pt"]  # fmt: skip
    assert manifest(tmp_path) == {"c-2.pt": "new"}
    assert remove_stale(tmp_path / "absent", Path("x"), bool) == []


def test_ctrl_c_while_writing_leaves_nothing_behind(monkeypatch, tmp_path):
    def interrupted(obj, file):
        file.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"v": 1}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_an_object_that_cannot_be_saved_leaves_nothing_behind(tmp_path):
    with pytest.warns(UserWarning, match="could not write the cache"):
        assert save_atomic({"f": lambda: 1}, tmp_path / "x.pt") is False
    assert list(tmp_path.iterdir()) == []


WRITER = """
import sys, time, torch
from hwlib.cache import save_atomic

class Slow:  # pickling it blocks: the writer is caught mid-write
    def __reduce__(self):
        open(sys.argv[2], "w").close()
        time.sleep(120)
        return (int, (0,))

save_atomic({"x": torch.zeros(10**5), "slow": Slow()}, sys.argv[1])
"""


def _start_writer(tmp_path, name):
    ready = tmp_path / f"{name}.ready"
    folder = tmp_path / "cache"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder / "x.pt"), str(ready)]
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert writer.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    (temp,) = [
        p for p in folder.glob(".x.pt.*.tmp") if f"-{writer.pid}." in p.name
    ]
    return writer, temp


def test_a_writer_killed_mid_write_leaves_a_temporary_the_next_sweeps(
    tmp_path,
):
    """SIGKILL cannot be cleaned up after: the killed writer's temporary is
    swept by the next save or load in that folder, while a live writer's
    temporary (the second process, still pickling) is left alone."""
    killed, orphan = _start_writer(tmp_path, "killed")
    live, busy = _start_writer(tmp_path, "live")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert orphan.exists()  # what the kill left
        assert load_or_discard(tmp_path / "cache" / "x.pt") is None
        assert not orphan.exists() and busy.exists()
        assert sweep_orphans(tmp_path / "cache") == []
        assert busy.exists()
    finally:
        live.kill()
        live.wait()
    assert sweep_orphans(tmp_path / "cache") == [busy]
    assert save_atomic({"v": 1}, tmp_path / "cache" / "x.pt")
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert names == [MANIFEST, "x.pt"]


def test_saved_file_is_readable_by_others_as_umask_allows(tmp_path):
    path = tmp_path / "x.pt"
    save_atomic({"v": 1}, path)
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
