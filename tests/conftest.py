"""Shared test setup: Qt runs offscreen; nothing touches the real data folder."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Downloads, imports and personal drawings go to a throwaway folder for the whole run.
os.environ["DIGIT_STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="digit-studio-tests-")
os.environ.pop("DIGIT_STUDIO_MNIST_MIRROR", None)
