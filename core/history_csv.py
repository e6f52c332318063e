"""A model's training history as CSV: one row per epoch, one column per figure.

Owns `history_table` (the columns and cells) and `write_history_csv` (the file,
written atomically). Per-layer figures become one column per layer
(``gradient_norm_layer1`` is the first weight layer's, ``inactive_share_layer1`` the
first hidden layer's: the units those weights feed). Settings changed during a run
(the phases' ``changes``) are rows of their own where they applied. Never imports Qt.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

from core.atomic_file import atomic_write
from core.model_io import HISTORY_FIELDS
from core.run import history_timeline

# Where each row sits on the model's whole epoch axis, and its phase's kind.
LEADING_COLUMNS = ("run_epoch", "phase", "phase_kind")
# The last column when settings changed during a phase: "true" on a change's row.
CHANGE_COLUMN = "settings_changed"


def history_table(
    history: Sequence[Mapping[str, Any]], phases: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[list[str]]]:
    """Return the header and the rows of a history's CSV.

    Parameters
    ----------
    history : sequence of dict
        A model's rows, as its file stores them (``phase`` missing means 0).
    phases : sequence of dict
        The model's phases (their ``kind`` names each row's phase).

    Returns
    -------
    header : list of str
        `LEADING_COLUMNS`, then the known history fields in the file format's
        order, lists spread over one column per layer, then any other field in
        the order it first appears; with settings changed during a phase,
        ``momentum`` (when a change set it) and `CHANGE_COLUMN` last.
    rows : list of list of str
        One per epoch, and one per change of settings where it applied (its
        ``run_epoch``, e.g. 2.25 a quarter into epoch 3; its new
        ``learning_rate`` and ``momentum``; "true" in `CHANGE_COLUMN`), in the
        order of ``run_epoch`` (a change at an epoch's end after that epoch).
        Numbers are written exactly (``repr``: they read back as the same float);
        a missing or null value is an empty cell.
    """
    flat_rows = [_flatten(row) for row in history]
    known = [name for name in HISTORY_FIELDS if name != "phase"]
    order = {name: index for index, name in enumerate(known)}
    columns: dict[str, tuple[int, int]] = {}
    for row in flat_rows:
        for key, (field, _) in row.items():
            columns.setdefault(key, (order.get(field, len(order)), len(columns)))
    header = sorted(columns, key=lambda key: columns[key])
    timeline = history_timeline(list(history))
    end = float(timeline.epochs.max()) if len(history) else 0.0
    # A phase without a finished epoch yet starts where the history ends.
    starts = [*timeline.starts, *[end] * max(len(phases) - len(timeline.starts), 0)]
    changes = [
        (starts[phase] + float(change["at_epoch"]), phase, change)
        for phase, record in enumerate(phases)
        for change in record.get("changes") or []
    ]
    if changes:
        if "momentum" not in header and any("momentum" in c for *_, c in changes):
            header.append("momentum")
        header.append(CHANGE_COLUMN)
    placed = []  # (run epoch, epochs before changes at a tie, cells)
    for index, (row, flat) in enumerate(zip(history, flat_rows, strict=True)):
        phase = int(row.get("phase", 0))
        at = float(timeline.epochs[index])
        cells = [_cell(flat[key][1]) if key in flat else "" for key in header]
        placed.append((at, 0, _leading(at, phase, phases) + cells))
    for at, phase, change in changes:
        values = {
            "learning_rate": change.get("learning_rate"),
            "momentum": change.get("momentum"),
            CHANGE_COLUMN: True,
        }
        cells = [_cell(values.get(key)) for key in header]
        placed.append((at, 1, _leading(at, phase, phases) + cells))
    placed.sort(key=lambda item: item[:2])  # stable: each phase's rows stay in order
    return list(LEADING_COLUMNS) + header, [cells for *_, cells in placed]


def _leading(at: float, phase: int, phases: Sequence[Mapping[str, Any]]) -> list:
    kind = phases[phase].get("kind", "") if phase < len(phases) else ""
    return [_cell(at), str(phase), str(kind)]


def history_csv(
    history: Sequence[Mapping[str, Any]], phases: Sequence[Mapping[str, Any]]
) -> str:
    """Return `history_table` as CSV text: comma-separated, one line per row."""
    header, rows = history_table(history, phases)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def write_history_csv(
    path: str | os.PathLike,
    history: Sequence[Mapping[str, Any]],
    phases: Sequence[Mapping[str, Any]],
) -> None:
    """Write `history_csv` to ``path`` atomically (UTF-8).

    Raises
    ------
    OSError
        When the file cannot be written; nothing is left half-written.
    """
    data = history_csv(history, phases).encode("utf-8")
    with atomic_write(path) as handle:
        handle.write(data)


def _flatten(row: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Map each column of a row to its field and its value."""
    flat: dict[str, tuple[str, Any]] = {}
    for field, value in row.items():
        if field == "phase" or (value is None and _is_list_field(field)):
            continue  # an epoch without a health sample: its cells stay empty
        if isinstance(value, list | tuple):
            for layer, item in enumerate(value):
                flat[f"{field}_layer{layer + 1}"] = (field, item)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                flat[f"{field}.{key}"] = (field, item)
        else:
            flat[field] = (field, value)
    return flat


def _is_list_field(field: str) -> bool:
    return HISTORY_FIELDS.get(field) in ("layers", "hidden")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value else ""
    return str(value)
