"""Plain-text tables for the CLI: confusion matrix, per-class scores, history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cli.output import printable
from core.messages import plural
from core.run import history_timeline


def training_data_words(config: Mapping[str, Any]) -> list[str]:
    """Name in words what a run (its config as a dict) did to its training images."""
    words = []
    if config.get("deskew"):
        words.append("deskewed")
    if config.get("negatives"):
        words.append(f"{config['negatives']:,} made-up non-digits")
    if config.get("pen_digits"):
        words.append("with the pen digits")
    return words


def confusion_table(confusion: np.ndarray, class_names: Sequence[str]) -> str:
    """Rows are true classes, columns predicted classes.

    Parameters
    ----------
    confusion : ndarray
        int ``(K, K)``, ``confusion[true, predicted]`` counts.
    class_names : sequence of str
        ``K`` names.
    """
    names = [printable(name) for name in class_names]
    width = max(
        [len(name) for name in names] + [len(str(int(confusion.max(initial=0))))]
    )
    corner = "true\\pred"
    label_width = max(len(name) for name in [*names, corner])
    lines = [f"{corner:<{label_width}} " + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, confusion, strict=True):
        cells = " ".join(str(int(count)).rjust(width) for count in row)
        lines.append(f"{name:<{label_width}} {cells}")
    return "\n".join(lines)


def per_class_table(
    class_names: Sequence[str],
    precision: np.ndarray,
    recall: np.ndarray,
    support: np.ndarray,
) -> str:
    """Precision, recall and number of true samples per class."""
    names = [printable(name) for name in class_names]
    label_width = max(len(name) for name in [*names, "class"])
    lines = [f"{'class':<{label_width}}  precision   recall  samples"]
    for name, p, r, s in zip(names, precision, recall, support, strict=True):
        lines.append(
            f"{name:<{label_width}}  {_percent(p):>9}  {_percent(r):>7}  {int(s):>7}"
        )
    return "\n".join(lines)


def history_summary(history: Sequence[dict]) -> list[str]:
    """Summarise a training history (one dict per epoch, any phases) in a few lines.

    Epochs are counted from the start of the first phase (`core.run.history_timeline`).
    """
    if not history:
        return ["no training history stored"]
    timeline = history_timeline(list(history))
    first, last = history[0], history[-1]
    count = plural(len(history), "epoch")
    if timeline.phases[-1] > 0:
        count += f" in {len(timeline.starts)} phases"
    lines = [f"{count}; first: {_epoch_text(first)}", f"last: {_epoch_text(last)}"]
    scored = [
        (entry.get("validation_accuracy"), index)
        for index, entry in enumerate(history)
        if isinstance(entry.get("validation_accuracy"), (int, float))
    ]
    if scored:
        best, index = max(scored)
        where = f"epoch {int(timeline.epochs[index])}"
        if timeline.phases[-1] > 0:
            phase = int(timeline.phases[index])
            where += f" (phase {phase + 1}, epoch {history[index].get('epoch')})"
        lines.append(f"best validation accuracy {_percent(best)} at {where}")
    seconds = [e.get("seconds") for e in history if isinstance(e.get("seconds"), float)]
    if seconds:
        lines.append(f"training time {sum(seconds):.1f} s")
    return lines


def _epoch_text(entry: dict) -> str:
    parts = []
    for key, label in (
        ("train_loss", "train loss"),
        ("train_accuracy", "train acc"),
        ("validation_loss", "val loss"),
        ("validation_accuracy", "val acc"),
    ):
        value = entry.get(key)
        if isinstance(value, (int, float)):
            text = _percent(value) if "accuracy" in key else f"{value:.4f}"
            parts.append(f"{label} {text}")
    return ", ".join(parts) if parts else "no figures"


def _percent(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{100.0 * float(value):.2f}%"
