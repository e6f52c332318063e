"""download_mnist against a local HTTP server on 127.0.0.1; never the internet."""

import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from special_files import call_within, make_fifo

from core import download
from core.dataset_store import ARRAY_FILES, list_datasets, load_dataset
from core.download import (
    MNIST_FILES,
    DownloadCancelled,
    DownloadError,
    download_mnist,
)
from core.idx import write_idx

IMAGES = "train-images-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory):
    """Small stand-ins for the four official files, and their MD5s."""
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(0)
    arrays = (
        rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),  # ~235 kB, 4 chunks
        rng.integers(0, 10, 300).astype(np.uint8),
        rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 50).astype(np.uint8),
    )
    contents = {}
    for name, array in zip(MNIST_FILES, arrays, strict=True):
        write_idx(folder / name, array)
        contents[name] = (folder / name).read_bytes()
    checksums = {name: hashlib.md5(data).hexdigest() for name, data in contents.items()}
    sizes = {name: len(data) for name, data in contents.items()}
    return folder, contents, checksums, {"checksums": checksums, "sizes": sizes}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        mirror, _, name = self.path.lstrip("/").partition("/")
        range_header = self.headers.get("Range")
        server.requests.append((mirror, name, range_header))
        mode = server.modes.get((mirror, name), server.modes.get(mirror, "ok"))
        body = server.contents.get(name)
        if mode == "404" or body is None:
            self.send_error(404)
            return
        if mode == "hang":
            server.release.wait(5)
            return
        if mode == "trickle-headers":
            self._trickle(b"HTTP/1.0 200 OK\r\n" + b"X: y\r\n" * 100_000)
            return
        if mode == "endless":
            self.send_response(200)
            self.end_headers()
            self._send_until_refused(body + b"\0" * (20 << 20))
            return
        if mode == "long-announced":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * len(body)))
            self.end_headers()
            self._send_until_refused(body * 10)
            return
        if mode == "truncate-once":
            server.modes[(mirror, name)] = "ok"
            mode = "truncate"
        start = 0
        if range_header and mode != "ignore-range":
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"
            )
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if mode == "truncate":
            payload = payload[: len(payload) // 2]
        if mode == "corrupt":
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        if mode == "trickle":
            self._trickle(payload)
            return
        self.wfile.write(payload)
        server.sent[name] = server.sent.get(name, 0) + len(payload)

    def _trickle(self, data):
        """One byte at a time, each long before any idle timeout."""
        try:
            for byte in data:
                if self.server.release.wait(0.02):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            pass

    def _send_until_refused(self, data):
        try:
            for start in range(0, len(data), 1 << 16):
                self.wfile.write(data[start : start + (1 << 16)])
        except OSError:
            pass


@pytest.fixture
def server(mnist_files):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.contents = mnist_files[1]
    httpd.modes = {}
    httpd.requests = []
    httpd.sent = {}
    httpd.release = threading.Event()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def refused_url():
    """A URL whose port is bound but not listening: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mnist/"
    sock.close()


def _folder(data_dir):
    return data_dir / "datasets" / "mnist"


def test_download_verifies_files_and_registers_mnist(tmp_path, server, mnist_files):
    calls = []
    folder = download_mnist(
        tmp_path,
        [server.base + "/a/"],
        progress=lambda *args: calls.append(args),
        **mnist_files[3],
    )
    assert folder == _folder(tmp_path)
    for name in MNIST_FILES:
        assert (folder / name).read_bytes() == mnist_files[1][name]
        assert (name, len(mnist_files[1][name]), len(mnist_files[1][name])) in calls
    # The official files stay (a later download re-checks them); arrays for loading.
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*MNIST_FILES, *ARRAY_FILES["train"], *ARRAY_FILES["test"], "dataset.json"]
    )
    # Progress rises monotonically within a file and starts at zero.
    done = [c[1] for c in calls if c[0] == IMAGES]
    assert done[0] == 0 and done == sorted(done) and len(done) >= 4
    train = load_dataset("mnist", tmp_path)
    test = load_dataset("mnist", tmp_path, split="test")
    assert (len(train), len(test), train.image_shape) == (300, 50, (28, 28))
    info = [i for i in list_datasets(tmp_path) if i.name == "mnist"][0]
    assert info.kind == "downloaded" and server.base in info.source


def test_mirror_without_trailing_slash_and_string_argument(
    tmp_path, server, mnist_files
):
    download_mnist(tmp_path, server.base + "/a", **mnist_files[3])
    assert {r[0] for r in server.requests} == {"a"}


def test_checksum_mismatch_fails_and_keeps_nothing(tmp_path, server, mnist_files):
    server.modes["a", IMAGES] = "corrupt"
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert f"{server.base}/a/{IMAGES}" in str(info.value)
    assert list(_folder(tmp_path).iterdir()) == []
    assert not any(i.name == "mnist" for i in list_datasets(tmp_path))


def test_truncated_transfers_fail_and_keep_only_the_partial_file(
    tmp_path, server, mnist_files
):
    server.modes["a", IMAGES] = "truncate"
    with pytest.raises(DownloadError, match="truncated"):
        download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    folder = _folder(tmp_path)
    assert not (folder / IMAGES).exists()
    assert not (folder / "dataset.json").exists()
    part = (folder / (IMAGES + ".part")).read_bytes()
    assert 0 < len(part) < len(mnist_files[1][IMAGES])
    assert mnist_files[1][IMAGES].startswith(part)


def test_interrupted_transfer_resumes_with_a_range_request(
    tmp_path, server, mnist_files
):
    server.modes["a", IMAGES] = "truncate-once"
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    size = len(mnist_files[1][IMAGES])
    image_requests = [r for r in server.requests if r[1] == IMAGES]
    assert image_requests == [("a", IMAGES, None), ("a", IMAGES, f"bytes={size // 2}-")]
    assert server.sent[IMAGES] == size  # half, then only the remainder
    assert (_folder(tmp_path) / IMAGES).read_bytes() == mnist_files[1][IMAGES]


def test_partial_file_from_an_earlier_run_is_resumed(tmp_path, server, mnist_files):
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    data = mnist_files[1][IMAGES]
    (folder / (IMAGES + ".part")).write_bytes(data[:100_000])
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert ("a", IMAGES, "bytes=100000-") in server.requests
    assert server.sent[IMAGES] == len(data) - 100_000
    assert (folder / IMAGES).read_bytes() == data
    assert not (folder / (IMAGES + ".part")).exists()


def test_server_ignoring_range_rewrites_the_file_from_the_start(
    tmp_path, server, mnist_files
):
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / (IMAGES + ".part")).write_bytes(b"stale bytes")
    server.modes["a"] = "ignore-range"
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert (folder / IMAGES).read_bytes() == mnist_files[1][IMAGES]


@pytest.mark.parametrize("stale", [b"x" * 1000, b"y" * 400_000])
def test_bad_partial_file_is_discarded_and_fetched_again(
    tmp_path, server, mnist_files, stale
):
    # 1,000 wrong bytes resume into a wrong file (MD5 fails); 400,000 are longer
    # than the file (HTTP 416). Both end in a fresh, verified download.
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / (IMAGES + ".part")).write_bytes(stale)
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert (folder / IMAGES).read_bytes() == mnist_files[1][IMAGES]
    assert [r[2] for r in server.requests if r[1] == IMAGES][-1] is None


def test_404_then_a_working_second_mirror(tmp_path, server, mnist_files):
    server.modes["a"] = "404"
    download_mnist(
        tmp_path, [server.base + "/a/", server.base + "/b/"], **mnist_files[3]
    )
    assert ("a", IMAGES, None) in server.requests
    assert ("b", IMAGES, None) in server.requests
    assert (_folder(tmp_path) / IMAGES).read_bytes() == mnist_files[1][IMAGES]


def test_connection_refused_is_reported(tmp_path, refused_url, mnist_files):
    with pytest.raises(DownloadError, match="connection refused") as info:
        download_mnist(tmp_path, [refused_url], **mnist_files[3])
    assert refused_url + IMAGES in str(info.value)


def test_all_mirrors_failing_lists_each_one(tmp_path, server, refused_url, mnist_files):
    server.modes["a"] = "404"
    mirrors = [server.base + "/a/", refused_url]
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, mirrors, **mnist_files[3])
    message = str(info.value)
    assert f"{server.base}/a/{IMAGES}: HTTP 404" in message
    assert f"{refused_url}{IMAGES}: connection refused" in message


def test_silent_server_times_out(tmp_path, server, mnist_files):
    server.modes["a"] = "hang"
    with pytest.raises(DownloadError, match="timed out"):
        download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3], timeout=0.3)


def test_cancel_keeps_the_partial_file_and_a_rerun_resumes(
    tmp_path, server, mnist_files
):
    cancel = threading.Event()
    reported = []

    def progress(name, done, total):
        if name == IMAGES and done > 0:
            reported.append(done)
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_mnist(
            tmp_path,
            [server.base + "/a/"],
            progress=progress,
            cancel=cancel,
            **mnist_files[3],
        )
    folder = _folder(tmp_path)
    part = folder / (IMAGES + ".part")
    kept = part.stat().st_size
    # Stopped right after the first chunk (one read; its size is the network's).
    assert reported == [kept] and 0 < kept <= download.CHUNK_SIZE
    assert not (folder / IMAGES).exists() and not (folder / "dataset.json").exists()
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert ("a", IMAGES, f"bytes={kept}-") in server.requests
    assert (folder / IMAGES).read_bytes() == mnist_files[1][IMAGES]


def test_present_files_are_verified_not_refetched(tmp_path, server, mnist_files):
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    server.requests.clear()
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert server.requests == []
    # A damaged file is never trusted: it is fetched again.
    path = _folder(tmp_path) / IMAGES
    path.write_bytes(path.read_bytes()[:-10])
    download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert [r[1] for r in server.requests] == [IMAGES]
    assert path.read_bytes() == mnist_files[1][IMAGES]


def test_file_mirror_installs_a_local_copy(tmp_path, mnist_files):
    folder, _, _, expected = mnist_files
    download_mnist(tmp_path / "data", [folder.as_uri()], **expected)
    assert len(load_dataset("mnist", tmp_path / "data", split="test")) == 50


def test_official_checksums_are_the_published_ones():
    assert list(download.MNIST_MD5.values()) == [
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ]
    assert all(m.startswith("https://") for m in download.DEFAULT_MIRRORS)


def test_official_checksums_reject_other_files(tmp_path, server, mnist_files):
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_mnist(tmp_path, [server.base + "/a/"], sizes=mnist_files[3]["sizes"])


# --- runaway servers and files: size caps and deadlines -------------------------


def _fast_limits(grace=0.5):
    """A deadline of about half a second for any of the small test files."""
    return {"grace": grace, "min_rate": 1e9}


def _max_done(calls):
    return max((done for _, done, _ in calls), default=0)


@pytest.mark.parametrize("mode", ["trickle", "trickle-headers"])
def test_a_trickling_server_is_given_up_at_the_deadline(
    tmp_path, server, mnist_files, mode
):
    server.modes["a"] = mode
    started = time.monotonic()
    with pytest.raises(DownloadError, match="too slow: not complete after 0.5 s"):
        call_within(
            download_mnist,
            tmp_path,
            [server.base + "/a/"],
            seconds=10,
            **mnist_files[3],
            **_fast_limits(),
        )
    assert time.monotonic() - started < 3


def test_the_deadline_follows_the_size_and_the_minimum_rate():
    assert download.MIN_BYTES_PER_SECOND == 20_000
    largest = max(download.MNIST_SIZES.values())
    seconds = download.DEADLINE_GRACE_S + largest / download.MIN_BYTES_PER_SECOND
    assert 8 * 60 < seconds < 10 * 60


def test_a_slow_but_steady_server_meets_the_deadline(tmp_path, server, mnist_files):
    server.modes["a", "t10k-labels-idx1-ubyte.gz"] = "trickle"
    size = mnist_files[3]["sizes"]["t10k-labels-idx1-ubyte.gz"]
    # About 50 bytes/s arrive; the deadline allows 25 bytes/s plus a second.
    download_mnist(
        tmp_path, [server.base + "/a/"], **mnist_files[3], grace=1.0, min_rate=25
    )
    assert size < 100
    assert (_folder(tmp_path) / "t10k-labels-idx1-ubyte.gz").stat().st_size == size


def test_an_endless_body_stops_at_the_official_size(tmp_path, server, mnist_files):
    server.modes["a"] = "endless"
    calls = []
    with pytest.raises(DownloadError, match="sends more than the 235,"):
        call_within(
            download_mnist,
            tmp_path,
            [server.base + "/a/"],
            progress=lambda *args: calls.append(args),
            **mnist_files[3],
        )
    assert _max_done(calls) <= mnist_files[3]["sizes"][IMAGES]
    assert list(_folder(tmp_path).iterdir()) == []


def test_a_content_length_that_disagrees_is_refused_before_reading(
    tmp_path, server, mnist_files
):
    server.modes["a"] = "long-announced"
    calls = []
    with pytest.raises(
        DownloadError, match="announces 2,35.* bytes where the official"
    ):
        call_within(
            download_mnist,
            tmp_path,
            [server.base + "/a/"],
            progress=lambda *args: calls.append(args),
            **mnist_files[3],
        )
    assert calls == []
    assert list(_folder(tmp_path).iterdir()) == []


def _file_mirror(tmp_path, mnist_files, replace):
    """A file:// mirror with the real files, where ``replace`` makes the first one."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in MNIST_FILES[1:]:
        (mirror / name).write_bytes(mnist_files[1][name])
    return mirror.as_uri() + "/", replace(mirror / IMAGES)


def test_a_file_mirror_pointing_at_dev_zero_is_refused(tmp_path, mnist_files):
    url, _ = _file_mirror(tmp_path, mnist_files, lambda p: p.symlink_to("/dev/zero"))
    with pytest.raises(DownloadError, match="it is a character device"):
        call_within(download_mnist, tmp_path / "data", [url], **mnist_files[3])
    assert list(_folder(tmp_path / "data").iterdir()) == []


def test_a_file_mirror_holding_a_fifo_is_refused(tmp_path, mnist_files):
    url, fifo = _file_mirror(tmp_path, mnist_files, make_fifo)
    with pytest.raises(DownloadError, match="it is a FIFO"):
        call_within(
            download_mnist, tmp_path / "data", [url], fifo=fifo, **mnist_files[3]
        )


def test_a_huge_file_on_a_file_mirror_is_refused_without_copying(tmp_path, mnist_files):
    def sparse(path):
        with open(path, "wb") as stream:
            stream.truncate(300_000_000)

    url, _ = _file_mirror(tmp_path, mnist_files, sparse)
    with pytest.raises(DownloadError, match="300,000,000 bytes where the official"):
        call_within(download_mnist, tmp_path / "data", [url], **mnist_files[3])
    assert list(_folder(tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("which", [IMAGES, IMAGES + ".part"])
def test_a_fifo_in_the_dataset_folder_is_refused(tmp_path, server, mnist_files, which):
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    fifo = make_fifo(folder / which)
    with pytest.raises(DownloadError, match=f"{which}: it is a FIFO.*remove it"):
        call_within(
            download_mnist,
            tmp_path,
            [server.base + "/a/"],
            fifo=fifo,
            **mnist_files[3],
        )


def test_a_stalled_tls_handshake_is_given_up_at_the_deadline(tmp_path, mnist_files):
    """A server that accepts the connection and never answers the TLS hello."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
    started = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="too slow"):
            call_within(
                download_mnist, tmp_path, [url], **mnist_files[3], **_fast_limits()
            )
    finally:
        listener.close()
    assert time.monotonic() - started < 3


def test_a_link_in_place_of_the_dataset_record_is_not_replaced(
    tmp_path, server, mnist_files
):
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "dataset.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(DownloadError, match="dataset.json: it is a symbolic link"):
        download_mnist(tmp_path, [server.base + "/a/"], **mnist_files[3])
    assert (folder / "dataset.json").is_symlink()
    assert not (tmp_path / "elsewhere.json").exists()
