"""The user's data and cache folders and MNIST mirror, read from the environment.

The only core module that reads global settings; only `cli/` and `gui/` call it,
and they pass the results to the rest of core. Never imports Qt.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "DIGIT_STUDIO_DATA_DIR"
MNIST_MIRROR_ENV = "DIGIT_STUDIO_MNIST_MIRROR"
CACHE_DIR_ENV = "DIGIT_STUDIO_CACHE_DIR"


def data_dir() -> Path:
    """Return the folder for downloaded and imported datasets (not created here).

    ``$DIGIT_STUDIO_DATA_DIR`` when set and non-empty, otherwise the platform's
    user data folder, e.g. ``~/.local/share/DigitStudio`` on Linux.
    """
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("DigitStudio", appauthor=False))


def cache_dir() -> Path:
    """Return the folder for what can be made again (not created here).

    ``$DIGIT_STUDIO_CACHE_DIR`` when set and non-empty, otherwise the platform's
    user cache folder, e.g. ``~/.cache/DigitStudio`` on Linux.
    """
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("DigitStudio", appauthor=False))


def mnist_mirror() -> str | None:
    """Return ``$DIGIT_STUDIO_MNIST_MIRROR`` if set, else None (use the built-in list).

    A value replaces the built-in mirror list of `core.download.download_mnist`.
    """
    value = os.environ.get(MNIST_MIRROR_ENV, "").strip()
    return value or None
