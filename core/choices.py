"""The entry type of the registries the user picks from (optimizers, schedules, ...).

Owns ``Choice``; imports nothing from core.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One named option of a registry, with what a user interface shows for it.

    Attributes
    ----------
    name : str
        Registry key: typed on the command line and stored in model files.
    label : str
        Short name shown in a menu or combo box.
    tooltip : str
        One sentence that says what the option does.
    settings : tuple of str
        The ``TrainingConfig`` fields that apply only to this option (the panel
        shows them only while it is chosen).
    """

    name: str
    label: str
    tooltip: str
    settings: tuple[str, ...] = ()
