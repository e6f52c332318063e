import errno
import os
import stat

import pytest

from core.atomic_file import atomic_write


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
