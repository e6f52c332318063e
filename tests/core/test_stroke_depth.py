import numpy as np
import pytest

from core.stroke_depth import grow_into_paper, ridge_depths, stroke_depths, thin_share


def _bar(ink, top, left, height, width):
    ink[top : top + height, left : left + width] = True


def test_a_bar_is_as_deep_as_half_its_width_everywhere():
    ink = np.zeros((40, 30), bool)
    _bar(ink, 5, 10, 30, 7)
    depth, deepest = stroke_depths(ink)
    assert deepest == 4  # 2 d - 1 = 7
    assert depth[20, 10] == 1 and depth[20, 13] == 4
    ridge = ridge_depths(depth, deepest)
    assert np.all(ridge[ink] == 4) and np.all(ridge[~ink] == 0)


def test_a_hairline_beside_a_stem_keeps_its_own_width():
    ink = np.zeros((60, 60), bool)
    _bar(ink, 5, 5, 50, 9)  # stem, 5 layers
    _bar(ink, 28, 14, 3, 40)  # hairline joined to it, 2 layers
    depth, deepest = stroke_depths(ink)
    ridge = ridge_depths(depth, deepest)
    assert deepest == 5
    # Away from the joint each keeps its own: the stem's edges its 5, the
    # hairline's edges its 2, not the stem's.
    assert np.all(ridge[5:25, 5:14] == 5) and np.all(ridge[34:55, 5:14] == 5)
    assert np.all(ridge[28:31, 20:54] == 2)


def test_a_bump_on_a_stroke_takes_the_stroke_s_width():
    ink = np.zeros((40, 30), bool)
    _bar(ink, 5, 10, 30, 7)
    ink[20, 17] = True  # one pixel sticking out of the right edge
    ink[4, 13] = True  # and one out of the end
    depth, deepest = stroke_depths(ink)
    assert depth[20, 17] == 1 and depth[4, 13] == 1
    ridge = ridge_depths(depth, deepest)
    assert ridge[20, 17] == 4 and ridge[4, 13] == 4


def test_thin_share_counts_the_ink_in_strokes_up_to_a_width():
    one_pen = np.zeros((60, 60), bool)
    _bar(one_pen, 5, 5, 50, 9)
    _bar(one_pen, 5, 30, 50, 9)
    depth, _ = stroke_depths(one_pen)
    assert thin_share(depth, 5.4) == 0.0
    assert thin_share(depth, 9.0) == 1.0
    two_widths = one_pen.copy()
    _bar(two_widths, 5, 50, 50, 3)
    # Ridges stand for their cross sections: 3 of 9 + 9 + 3 pixels.
    share = thin_share(stroke_depths(two_widths)[0], 5.4)
    assert share == pytest.approx(3 / 21, abs=0.02)
    assert thin_share(np.zeros((5, 5), np.uint8), 5.4) == 0.0


def test_paper_near_a_stroke_takes_its_ridge():
    ridge = np.zeros((9, 9), np.uint8)
    ridge[4, 4] = 3
    grow_into_paper(ridge, 2)
    assert np.all(ridge[2:7, 2:7] == 3)
    assert ridge[1].max() == 0 and ridge[:, 7].max() == 0


def test_empty_ink_has_no_depth():
    depth, deepest = stroke_depths(np.zeros((4, 6), bool))
    assert deepest == 0 and not depth.any()


def test_ink_too_wide_for_its_depths_is_refused():
    with pytest.raises(ValueError, match="at most 510 px"):
        stroke_depths(np.ones((600, 600), bool))
    depth, deepest = stroke_depths(np.ones((510, 600), bool))
    assert deepest == 255 and depth.max() == 255
