import os
import socket

import pytest
from special_files import call_within, make_fifo, make_unreplaceable

from core.safe_files import (
    NotAFileError,
    check_replaceable,
    open_regular,
    read_regular_bytes,
)


def test_open_regular_reads_a_file_and_through_a_link(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"content")
    (tmp_path / "link.bin").symlink_to(target)
    with open_regular(tmp_path / "link.bin") as stream:
        assert stream.read() == b"content"
    assert read_regular_bytes(target) == b"content"


def test_open_regular_leaves_the_file_blocking(tmp_path):
    import fcntl

    (tmp_path / "a").write_bytes(b"x")
    with open_regular(tmp_path / "a") as stream:
        assert not fcntl.fcntl(stream.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = make_fifo(tmp_path / "pipe.npz")
    with pytest.raises(NotAFileError, match=r"pipe.npz: it is a FIFO \(named pipe\)"):
        call_within(read_regular_bytes, fifo, fifo=fifo)


def test_a_link_to_a_fifo_is_refused_at_once(tmp_path):
    fifo = make_fifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(fifo)
    with pytest.raises(NotAFileError, match="FIFO"):
        call_within(read_regular_bytes, tmp_path / "link", fifo=fifo)


@pytest.mark.parametrize("device", [os.devnull, "/dev/zero"])
def test_character_devices_are_refused(device):
    with pytest.raises(NotAFileError, match="it is a character device"):
        call_within(read_regular_bytes, device)


def test_a_folder_is_refused_as_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        open_regular(tmp_path)


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(NotAFileError, match="it is a socket"):
            call_within(read_regular_bytes, path)
    finally:
        server.close()


def test_a_missing_file_is_the_usual_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "none")


def test_check_replaceable_allows_new_and_regular_files(tmp_path):
    check_replaceable(tmp_path / "new.npz")
    (tmp_path / "old.npz").write_bytes(b"x")
    check_replaceable(tmp_path / "old.npz")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("fifo", "it is a FIFO"),
        ("device", "it is a character device"),
        ("folder", "it is a folder"),
        ("link", "it is a symbolic link to .*real.npz"),
        ("dangling link", "it is a symbolic link to .*nowhere"),
    ],
)
def test_check_replaceable_names_what_the_path_is(tmp_path, kind, message):
    path = make_unreplaceable(tmp_path / "out.npz", kind)
    with pytest.raises(NotAFileError, match=message) as info:
        check_replaceable(path)
    assert str(info.value).startswith(f"{path}: ")
