"""`predict` and its image reader against hostile images: huge, vector, special files.

No input may stop the batch, and every result is printed as soon as it is known.
"""

import dataclasses
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from memory_peak import traced_peak
from special_files import call_within, make_fifo
from test_cli import run_cli

from cli import images
from cli.images import ImageFileError, read_grey
from core.datasets import Normalization
from core.model_io import ModelMetadata, save_model
from core.network import MLP

ROOT = Path(__file__).resolve().parent.parent
SVG_WITH_TEXT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    '<rect width="100" height="100" fill="white"/>'
    '<text x="10" y="80" font-size="80">7</text></svg>'
)


def write_png(path, pixels):
    """A PNG of uint8 grey ``(H, W)`` or RGBA ``(H, W, 4)`` pixels, written directly."""
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 6
    rows = np.zeros((height, 1 + pixels[0].size), np.uint8)  # filter byte 0: none
    rows[:, 1:] = pixels.reshape(height, -1)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + chunk(b"IEND", b"")
    )
    return path


def _digit(path):
    """A dark stroke on white paper: something predict classifies."""
    pixels = np.full((60, 60), 255, np.uint8)
    pixels[10:50, 27:33] = 0
    return write_png(path, pixels)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    metadata = ModelMetadata(
        normalization=Normalization.fit("scale", np.zeros((1, 28, 28), np.uint8), 255),
        image_shape=(28, 28),
        class_names=tuple("0123456789"),
    )
    save_model(path, MLP((784, 10), activation="relu", seed=0), metadata)
    return path


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path):
    path = write_png(tmp_path / "huge.png", np.zeros((8000, 8000), np.uint8))
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    with pytest.raises(ImageFileError, match=r"8,000 x 8,000 pixels \(64.0 megapixels"):
        read_grey(path)
    assert time.monotonic() - started < 1.0


def test_the_pixel_limit_admits_camera_photos():
    assert 24_000_000 <= images.MAX_PIXELS <= 50_000_000


def _reference_grey(pixels):
    """The plain whole-image formula the block-wise conversion must reproduce."""
    grey = pixels[..., :3].astype(np.float32) @ np.array(
        [0.299, 0.587, 0.114], dtype=np.float32
    )
    alpha = pixels[..., 3].astype(np.float32) / 255.0
    if alpha.min() < 1.0:
        opaque = alpha > 0.5
        ink = float(grey[opaque].mean()) if opaque.any() else 0.0
        background = 255.0 if ink < 128.0 else 0.0
        grey = alpha * grey + (1.0 - alpha) * background
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_transparent_images_match_the_whole_image_formula(tmp_path, seed, monkeypatch):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (37, 23, 4), dtype=np.uint8)
    if seed == 2:
        pixels[..., 3] = 255
    monkeypatch.setattr(images, "_BLOCK_PIXELS", 100)  # several blocks of rows
    got = read_grey(write_png(tmp_path / "a.png", pixels))
    np.testing.assert_array_equal(got, _reference_grey(pixels))


def test_a_large_transparent_image_is_converted_in_bounded_memory(tmp_path):
    pixels = np.zeros((3000, 4000, 4), np.uint8)
    pixels[1000:2000, 1900:2100] = (0, 0, 0, 255)
    path = write_png(tmp_path / "photo.png", pixels)
    del pixels
    grey, peak = traced_peak(lambda: read_grey(path))
    assert grey.shape == (3000, 4000) and grey[1500, 2000] == 0 and grey[0, 0] == 255
    # The grey result (1 byte a pixel) plus small blocks; the whole-image formula
    # takes over 25 bytes a pixel.
    assert peak < 2 * grey.size


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_files_are_refused_at_once(tmp_path, kind):
    path = tmp_path / "x.png"
    fifo = None
    if kind == "fifo":
        fifo = make_fifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    with pytest.raises(ImageFileError, match="Cannot read .*: it is a"):
        call_within(read_grey, path, fifo=fifo)


def test_an_svg_is_refused_with_a_message(tmp_path):
    # Without <text>: a regression here fails instead of aborting the test run.
    svg = SVG_WITH_TEXT.replace('<text x="10" y="80" font-size="80">7</text>', "")
    path = tmp_path / "square.svg"
    path.write_text(svg)
    with pytest.raises(ImageFileError, match="is an SVG image.*save it as PNG"):
        read_grey(path)
    # The content decides, not the name.
    disguised = tmp_path / "square.png"
    disguised.write_text(svg)
    with pytest.raises(ImageFileError, match="SVG"):
        read_grey(disguised)


def _predict(model_path, *paths, cwd, code=""):
    script = code + "import sys, main; sys.exit(main.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, "predict", "--model", str(model_path)]
        + [str(p) for p in paths],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_svg_with_text_does_not_kill_the_batch(tmp_path, model_path):
    """Qt aborts the process reading SVG text without a QGuiApplication."""
    svg = tmp_path / "seven.svg"
    svg.write_text(SVG_WITH_TEXT)
    first, last = _digit(tmp_path / "a.png"), _digit(tmp_path / "b.png")
    result = _predict(model_path, first, svg, last, cwd=ROOT)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(first), str(last)]
    assert (
        result.stderr.count("\n") == 1 and "seven.svg is an SVG image" in result.stderr
    )


def test_every_line_is_out_before_a_later_crash(tmp_path, model_path):
    crash = (
        "import os, cli.predict as p\n"
        "real = p.read_grey\n"
        "p.read_grey = lambda path: os.abort() if 'boom' in path else real(path)\n"
    )
    paths = [_digit(tmp_path / f"{i}.png") for i in range(3)]
    boom = _digit(tmp_path / "boom.png")
    result = _predict(model_path, *paths, boom, cwd=ROOT, code=crash)
    assert result.returncode < 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [
        str(p) for p in paths
    ]


def test_unreadable_images_are_reported_and_the_others_classified(
    tmp_path, model_path, capsys
):
    good = _digit(tmp_path / "good.png")
    fifo = make_fifo(tmp_path / "pipe.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    code, out, err = call_within(
        run_cli, capsys, "predict", "--model", model_path,
        fifo, tmp_path / "missing.png", broken, good, fifo=fifo,
    )  # fmt: skip
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(good)]
    errors = err.splitlines()
    assert len(errors) == 3 and all(
        e.startswith("digit-studio: error: ") for e in errors
    )
    assert "FIFO" in errors[0] and "not found" in errors[1] and "broken" in errors[2]


def test_json_output_is_a_valid_list_of_the_readable_images(
    tmp_path, model_path, capsys
):
    good = _digit(tmp_path / "good.png")
    code, out, err = run_cli(
        capsys, "predict", "--model", model_path, "--json",
        good, tmp_path / "missing.png", good,
    )  # fmt: skip
    assert code == 1 and "missing.png" in err
    first, second = json.loads(out)
    assert first == second and first["path"] == str(good)
    assert out == json.dumps([first, second], indent=2, ensure_ascii=False) + "\n"
    code, out, _ = run_cli(
        capsys, "predict", "--model", model_path, "--json", tmp_path / "missing.png"
    )
    assert code == 1 and json.loads(out) == []


def test_a_narrow_hands_model_reads_images_wider(tmp_path, capsys, model_path):
    from core.model_io import load_model
    from core.preprocess import convert_drawing

    model = load_model(model_path)
    wide = tmp_path / "wide.npz"
    metadata = dataclasses.replace(model.metadata, hand_width=2.0, hand_turn=20.0)
    save_model(wide, model.network, metadata)
    pixels = np.full((80, 80), 255, np.uint8)
    pixels[10:70, 30:50] = 0
    pixels[20:60, 36:44] = 255  # a narrow 0
    png = write_png(tmp_path / "zero.png", pixels)
    for path, widen, turn in ((model_path, 1.0, 0.0), (wide, 2.0, 20.0)):
        code, out, err = run_cli(capsys, "predict", "--json", "--model", path, png)
        assert code == 0, err
        read = convert_drawing(pixels, (28, 28), widen=widen, turn=turn).image
        expected = model.predict_proba(read)
        got = json.loads(out)[0]["probabilities"]
        assert np.allclose([got[name] for name in model.class_names], expected)
