import os
from pathlib import Path

import pytest
import torch

from hwlib import cache
from hwlib.cache import (
    cache_dir,
    env_path,
    load_or_discard,
    remove_stale,
    save_atomic,
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
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]


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
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]  # no temp left


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
def test_damaged_file_is_named_removed_and_reported_as_absent(
    tmp_path, content
):
    """The kinds of damage (the data and model caches each test one, end to
    end): empty, not a zip, a zip header only, a real cache cut short."""
    path = tmp_path / "hwlib-cifar10-x.pt"
    if content == "cut":  # a write that stopped halfway
        save_atomic({"x": torch.arange(1000)}, path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.warns(UserWarning, match=r"damaged cache .*hwlib-cifar10-x"):
        assert load_or_discard(path) is None
    assert not path.exists()


def test_absent_file_loads_as_none_without_warning(tmp_path, recwarn):
    assert load_or_discard(tmp_path / "missing.pt") is None
    assert len(recwarn) == 0


def test_remove_stale_keeps_only_the_named_file(tmp_path):
    for name in ("c-1.pt", "c-2.pt", "c-3.pt", "other.pt"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale(tmp_path, "c-*.pt", tmp_path / "c-2.pt")
    assert sorted(p.name for p in removed) == ["c-1.pt", "c-3.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-2.pt", "other.pt"]
    assert remove_stale(tmp_path / "absent", "*", Path("x")) == []


def test_saved_file_is_readable_by_others_as_umask_allows(tmp_path):
    path = tmp_path / "x.pt"
    save_atomic({"v": 1}, path)
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
