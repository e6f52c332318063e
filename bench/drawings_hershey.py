"""Hershey vector lettering for the drawn-digit bench: load the committed strokes.

The strokes in ``drawings_hershey.json`` were extracted once from the PyPI package
``hershey-fonts`` (a build-time tool, never a dependency of Digit Studio). Run this
module with that package installed to extract them again:

    python -m venv /tmp/hv && /tmp/hv/bin/pip install hershey-fonts
    /tmp/hv/bin/python bench/drawings_hershey.py

Test material only: nothing that trains or calibrates a model reads this file.
"""

from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("drawings_hershey.json")
# Fonts whose digits are drawn: single-stroke roman, and the double-line roman,
# italic and duplex designs, which a wide pen draws as bold print (the gothic
# digits are extracted too, but blackletter is not how anyone prints a digit).
DIGIT_FONTS = ("futural", "timesr", "timesi", "rowmand")
# Fonts whose letters are extracted; "cursive" is a single-stroke script.
LETTER_FONTS = ("futural", "cursive", "timesr", "timesi", "rowmand", "gothiceng")
# Distance between the doubled lines of the multi-line fonts, in font units: a pen at
# least this wide (scaled like the glyph) merges them into one bold stroke.
DOUBLE_LINE_GAP = {
    "futural": 0.0,
    "cursive": 0.0,
    "timesr": 1.0,
    "timesi": 1.0,
    "rowmand": 1.0,
    "gothiceng": 1.0,
}
CAP_LINE, BASE_LINE = -12, 9
LICENCE = (
    "Hershey font data: digitised by Dr. A. V. Hershey (U.S. National Bureau of "
    "Standards); public domain, distributed in this form under the USENET "
    "distribution's terms (use freely; NTIS's own format is not used). Extracted "
    "with the hershey-fonts package 2.1.0, (c) 2020 apshu, MIT License."
)

Glyph = list[list[tuple[int, int]]]


@lru_cache(maxsize=1)
def load() -> dict[str, dict[str, Glyph]]:
    """Return ``{font: {character: strokes}}``, strokes as lists of (x, y) points.

    Coordinates are font units, y down; capitals span ``CAP_LINE`` to ``BASE_LINE``.
    """
    document = json.loads(DATA.read_text(encoding="utf-8"))
    fonts: dict[str, dict[str, Glyph]] = {}
    for font, glyphs in document["fonts"].items():
        fonts[font] = {
            char: [list(zip(flat[0::2], flat[1::2], strict=True)) for flat in strokes]
            for char, strokes in glyphs.items()
        }
    return fonts


def _extract() -> dict:
    from HersheyFonts import HersheyFonts  # build-time tool only

    font = HersheyFonts()
    fonts: dict[str, dict[str, list[list[int]]]] = {}
    wanted: dict[str, str] = {}
    for name in (*DIGIT_FONTS, "gothiceng"):
        wanted[name] = wanted.get(name, "") + string.digits
    for name in LETTER_FONTS:
        wanted[name] = wanted.get(name, "") + string.ascii_letters
    for name, chars in wanted.items():
        font.load_default_font(name)
        glyphs = {}
        for char in chars:
            (glyph,) = font.glyphs_for_text(char)
            glyphs[char] = [
                [int(v) for point in stroke for v in point] for stroke in glyph.strokes
            ]
        fonts[name] = glyphs
    return {"licence": LICENCE, "fonts": fonts}


if __name__ == "__main__":
    document = _extract()
    DATA.write_text(json.dumps(document, separators=(",", ":")) + "\n", "utf-8")
    count = sum(len(g) for g in document["fonts"].values())
    print(f"wrote {count} glyphs to {DATA}")
