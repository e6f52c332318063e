"""`bench.drawings_pen` reads UCI's pen digits as written and draws them upright."""

from types import SimpleNamespace

import numpy as np
import pytest

from bench import drawings_pen

# Two digits in the files' UNIPEN text; the tablet's y runs up. A 7: a bar along
# the top, then a stroke down to the left; a 1: one stroke down.
SEVEN_AND_ONE = """.INCLUDE dene.doc
.HIERARCHY DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7  3  12
.PEN_DOWN
 100  400
 300  400
.PEN_UP
.PEN_DOWN
 300  400
 200  100
.PEN_UP
.DT 100

.SEGMENT DIGIT    1 ? "1"
.COMMENT 1  4  13
.PEN_DOWN
 250  420
 250  80
.PEN_UP
"""


@pytest.fixture
def folder(tmp_path):
    for name in drawings_pen.FILES:
        (tmp_path / name).write_text(SEVEN_AND_ONE, "latin-1")
    return tmp_path


def test_reads_each_digit_with_its_writer_and_strokes(folder):
    digits = drawings_pen.read_pendigits(folder)
    assert [d.label for d in digits] == [7, 1, 7, 1]
    assert [d.writer for d in digits] == ["tra-3", "tra-4", "tes-3", "tes-4"]
    assert [len(d.strokes) for d in digits] == [2, 1, 2, 1]
    np.testing.assert_array_equal(digits[0].strokes[1], [[300, 400], [200, 100]])


def test_a_missing_file_is_named(tmp_path):
    (tmp_path / drawings_pen.FILES[0]).write_text(SEVEN_AND_ONE, "latin-1")
    with pytest.raises(ValueError, match=drawings_pen.FILES[1]):
        drawings_pen.read_pendigits(tmp_path)


def test_a_line_out_of_the_format_is_named(tmp_path):
    for name in drawings_pen.FILES:
        (tmp_path / name).write_text(SEVEN_AND_ONE.replace(" 200  100", " 200"))
    with pytest.raises(ValueError, match="line 12 of the .tra file"):
        drawings_pen.read_pendigits(tmp_path)


def test_digits_are_drawn_upright_on_the_canvas(folder, qapp):
    drawings, canvases = drawings_pen.render_pendigits(
        drawings_pen.read_pendigits(folder)
    )
    assert canvases.shape == (4, 280, 280) and canvases.dtype == np.uint8
    seven = canvases[0] > 128
    rows, cols = np.nonzero(seven)
    assert rows.min() > 0 and rows.max() < 279 and cols.min() > 0 and cols.max() < 279
    # The 7's bar is its widest row, and at its top, not at its bottom.
    widths = seven.sum(axis=1)
    assert np.argmax(widths) - rows.min() < 0.2 * (rows.max() - rows.min())
    assert [d.label for d in drawings] == [7, 1, 7, 1]
    assert [d.pen for d in drawings] == list(map(float, drawings_pen.PENS[:4]))


def test_the_figures_are_those_of_the_writers_nothing_trains_on(monkeypatch, capsys):
    # Every digit and pen once by the .tes writers, read right; the .tra writers'
    # (the bundled pen-digits) all read wrong: they must not count.
    from bench import drawings

    pens = drawings_pen.PENS
    unseen = [
        SimpleNamespace(label=d, hand=f"tes-{d % 2}", pen=float(pens[d % len(pens)]))
        for d in range(10)
    ]
    trained = [SimpleNamespace(label=4, hand="tra-1", pen=3.0)] * 5
    written = unseen + trained
    guess = np.array([d.label for d in unseen] + [9] * len(trained))
    everything = np.ones(len(written), bool)
    monkeypatch.setattr(drawings, "_read", lambda *_: (guess, everything))
    figures = drawings.report_pen(written, None, None, everything, None, None)
    assert figures["pen_digits"] == 1.0 and figures["pen_digits_not_sure"] == 0.0
    assert figures["pen_per_digit"][4] == 1.0
    assert figures["pen_writers_under_96"] == 0
    out = capsys.readouterr().out
    assert "5 writers" not in out and "1 writers (.tra)" in out
    assert "4->9" not in out
