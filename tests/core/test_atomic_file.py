import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from special_files import make_fifo, make_unreplaceable

from core.atomic_file import (
    atomic_write,
    process_start_time,
    remove_stale_leftovers,
    remove_stale_leftovers_under,
)
from core.safe_files import NotAFileError

ROOT = Path(__file__).resolve().parents[2]


def test_replaces_the_file_with_the_new_content(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as handle:
        handle.write(b"new content")
    assert target.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_text_mode_writes_utf8(tmp_path):
    target = tmp_path / "names.json"
    with atomic_write(target, text=True) as handle:
        handle.write("chiffre \u00e9t\u00e9")
    assert target.read_text(encoding="utf-8") == "chiffre \u00e9t\u00e9"


def test_a_failure_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"precious")
    with pytest.raises(OSError, match="No space"):
        with atomic_write(target) as handle:
            handle.write(b"half of it")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_nothing_is_written_until_the_block_ends(tmp_path):
    target = tmp_path / "new.bin"
    with atomic_write(target) as handle:
        handle.write(b"x")
        assert not target.exists()
    assert target.read_bytes() == b"x"


def test_the_file_gets_the_usual_umask_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "shared.bin") as handle:
            handle.write(b"x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(os.stat(tmp_path / "shared.bin").st_mode)
    assert mode == 0o644


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link", "dangling link"])
def test_an_existing_special_file_or_link_is_refused_and_kept(tmp_path, kind):
    path = make_unreplaceable(tmp_path / "out.npz", kind)
    before = os.lstat(path)
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(NotAFileError, match="it is a"):
        with atomic_write(path) as handle:
            handle.write(b"new")
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(os.listdir(tmp_path)) == listing
    if kind == "link":
        assert (tmp_path / "real.npz").read_bytes() == b"kept"


def test_a_special_file_appearing_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "out.npz"
    with pytest.raises(NotAFileError, match="FIFO"):
        with atomic_write(path) as handle:
            handle.write(b"new")
            make_fifo(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert os.listdir(tmp_path) == ["out.npz"]


# --- leftovers of interrupted writes --------------------------------------------

LONG_AGO = time.time() - 86_400


def _old(path):
    os.utime(path, (LONG_AGO, LONG_AGO), follow_symlinks=False)
    return path


def _old_file(path, content=b"x"):
    path.write_bytes(content)
    return _old(path)


def _old_folder(path, *files):
    path.mkdir()
    for name in files:
        _old_file(path / name)
    return _old(path)


def _leftovers(folder):
    """One of every kind of leftover, plus look-alikes that must never be removed."""
    stale = [
        _old_file(folder / ".m.npz.0123456789ab.tmp", b"half"),
        _old_file(folder / ".dataset.json.abcdef012345.tmp", b"half"),
        _old_folder(folder / ".import-fashion-0a1b2c3d", "train-labels-idx1-ubyte.gz"),
        _old_folder(folder / ".retired-emnist-deadbeef", "dataset.json"),
        _old_folder(folder / ".deleted-mnist-00000000"),
    ]
    kept = [
        _old_file(folder / name)
        for name in (
            "m.npz",  # a real file
            ".m.npz.0123456789AB.tmp",  # not our hex
            ".m.npz.0123456789a.tmp",  # 11 digits
            "m.npz.0123456789ab.tmp",  # not hidden
            ".m.npz.0123456789ab.tmp.bak",
            "train-images-idx3-ubyte.gz.part",  # a resumable download
        )
    ]
    kept += [
        _old_folder(folder / name)
        for name in (
            ".import-Fashion-0a1b2c3d",
            ".import-x-0a1b2c3",
            "import-x-0a1b2c3d",
        )
    ]
    return stale, kept


def test_stale_leftovers_are_removed_and_nothing_else(tmp_path):
    stale, kept = _leftovers(tmp_path)
    removed = remove_stale_leftovers(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_leftovers_newer_than_this_process_are_kept(tmp_path):
    fresh = tmp_path / ".m.npz.0123456789ab.tmp"
    fresh.write_bytes(b"being written by a process started after this one")
    (tmp_path / ".import-x-0a1b2c3d").mkdir()
    assert remove_stale_leftovers(tmp_path) == []
    assert process_start_time() < time.time()
    old_folder = _old_folder(tmp_path / ".import-y-0a1b2c3d")
    (old_folder / "train-images-idx3-ubyte.gz").write_bytes(b"just written")
    _old(old_folder)
    assert remove_stale_leftovers(tmp_path) == []


def test_a_link_named_like_a_leftover_is_left_alone(tmp_path):
    target = tmp_path / "precious"
    target.write_bytes(b"x")
    (tmp_path / ".m.npz.0123456789ab.tmp").symlink_to(target)
    (tmp_path / ".import-x-0a1b2c3d").symlink_to(tmp_path)
    _old(tmp_path / ".m.npz.0123456789ab.tmp")
    _old(tmp_path / ".import-x-0a1b2c3d")
    assert remove_stale_leftovers(tmp_path) == []
    assert target.read_bytes() == b"x"


def test_the_first_write_into_a_folder_removes_its_stale_leftovers(tmp_path):
    stale, kept = _leftovers(tmp_path)
    with atomic_write(tmp_path / "new.npz") as handle:
        handle.write(b"x")
    assert sorted(tmp_path.iterdir()) == sorted([*kept, tmp_path / "new.npz"])


def test_leftovers_under_a_data_folder_are_removed_two_levels_deep(tmp_path):
    deep = tmp_path / "personal" / "mnist"
    deep.mkdir(parents=True)
    stale = [
        _old_file(tmp_path / ".a.0123456789ab.tmp"),
        _old_file(deep / ".b.npz.0123456789ab.tmp"),
    ]
    too_deep = deep / "more"
    too_deep.mkdir()
    _old_file(too_deep / ".c.0123456789ab.tmp")
    assert sorted(remove_stale_leftovers_under(tmp_path)) == sorted(stale)
    assert (too_deep / ".c.0123456789ab.tmp").exists()


_WRITER = """
import sys, time
from core.atomic_file import atomic_write
with atomic_write(sys.argv[1]) as handle:
    handle.write(b"partial")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""
_CLEANER = """
import sys
from core.atomic_file import remove_stale_leftovers
print(len(remove_stale_leftovers(sys.argv[1])))
"""


def _python(code, *args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _temporaries(folder):
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_killed_write_is_cleaned_by_a_later_process_but_a_live_one_is_not(tmp_path):
    """kill -9 mid-write leaves a temporary file; the next process removes it."""
    writer = _python(_WRITER, tmp_path / "model.npz")
    assert writer.stdout.readline() == "writing\n"
    (temp,) = _temporaries(tmp_path)
    # As if the write had been going on for a day: old, but its writer holds it.
    _old(temp)
    cleaner = _python(_CLEANER, tmp_path)
    assert cleaner.communicate(timeout=30)[0] == "0\n"
    assert _temporaries(tmp_path) == [temp]
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=30)
    assert _temporaries(tmp_path) == [temp]
    cleaner = _python(_CLEANER, tmp_path)
    assert cleaner.communicate(timeout=30)[0] == "1\n"
    assert list(tmp_path.iterdir()) == []


def test_a_staging_folder_with_a_write_in_progress_is_kept(tmp_path):
    import fcntl

    staging = _old_folder(tmp_path / ".import-x-0a1b2c3d", ".f.gz.0123456789ab.tmp")
    with open(staging / ".f.gz.0123456789ab.tmp", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        _old(staging)
        assert remove_stale_leftovers(tmp_path) == []
    assert remove_stale_leftovers(tmp_path) == [staging]
