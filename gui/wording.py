"""The window's wording: counted nouns, "a" or "an", the registries' display names.

Plain Python; no Qt, no widgets.
"""

from __future__ import annotations

ACTIVATION_LABELS = {
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "tanh",
}
OUTPUT_LABELS = {
    "softmax_cross_entropy": "Softmax + cross-entropy",
    "sigmoid_quadratic": "Sigmoid + quadratic cost",
}
INIT_LABELS = {
    "he": "He (ReLU)",
    "xavier": "Xavier / Glorot",
    "textbook": "randn / sqrt(fan in)",
    "normal": "N(0, 1) (large)",
}

# Letter names that start with a vowel sound: "an F", "an 8" but "a U".
_VOWEL_SOUND_LETTERS = set("AEFHILMNORSX")
_VOWEL_SOUND_WORDS = ("a", "e", "i", "o")


def count(number: int, noun: str, plural: str | None = None) -> str:
    """Return "1 epoch", "2 epochs", "1,000 images" (``plural`` for irregular ones)."""
    if number == 1:
        return f"1 {noun}"
    return f"{number:,} {plural or noun + 's'}"


def with_article(name: str) -> str:
    """Return ``name`` after "a" or "an" as it is read aloud: "an 8", "a 7", "an F"."""
    text = str(name).strip()
    if not text:
        return "a"
    if text.replace(",", "").isdigit():
        digits = text.replace(",", "")
        # "eight", "eleven", "eighteen", "eleven thousand", "eighty".
        spoken_an = digits[0] == "8" or (
            len(digits) % 3 == 2 and digits[:2] in ("11", "18")
        )
        return f"{'an' if spoken_an else 'a'} {text}"
    if len(text) == 1:
        return f"{'an' if text.upper() in _VOWEL_SOUND_LETTERS else 'a'} {text}"
    return f"{'an' if text[0].lower() in _VOWEL_SOUND_WORDS else 'a'} {text}"


def format_duration(seconds: float) -> str:
    """Return "m:ss", or "h:mm:ss" from an hour on."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )
