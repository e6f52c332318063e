"""The training panel builds its choices from the core registries."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.datasets import NORMALIZATIONS
from core.optimizers import OPTIMIZERS
from core.schedules import SCHEDULES
from core.training import TrainingConfig
from gui.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    return panel


@pytest.mark.parametrize(
    ("combo", "registry"),
    [
        ("optimizer_combo", OPTIMIZERS),
        ("schedule_combo", SCHEDULES),
        ("normalization_combo", NORMALIZATIONS),
    ],
)
def test_each_choice_shows_its_registry_label_and_tooltip(panel, combo, registry):
    combo = getattr(panel, combo)
    items = [
        (
            combo.itemData(i),
            combo.itemText(i),
            combo.itemData(i, Qt.ItemDataRole.ToolTipRole),
        )
        for i in range(combo.count())
    ]
    assert items == [(c.name, c.label, c.tooltip) for c in registry.values()]
    for index, choice in enumerate(registry.values()):
        combo.setCurrentIndex(index)
        assert choice.tooltip in combo.toolTip()


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_the_settings_the_registries_name_are_shown_and_only_those(
    panel, optimizer, schedule
):
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData(optimizer))
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData(schedule))
    named = {*OPTIMIZERS[optimizer].settings, *SCHEDULES[schedule].settings}
    for name, widget in panel._setting_widgets.items():
        assert widget.isVisibleTo(panel) == (name in named), name
    assert named <= set(panel._setting_widgets)
    # Whatever is shown or hidden, the panel's settings make a valid config.
    panel.nesterov_check.setChecked(True)
    panel.min_learning_rate_box.setValue(1e-4)
    config = TrainingConfig(**panel.values())
    config.validate()
    assert (config.optimizer, config.schedule) == (optimizer, schedule)
    assert config.nesterov == ("nesterov" in named)
    assert (config.min_learning_rate > 0) == ("min_learning_rate" in named)


def test_the_pen_digits_box_shows_and_sets_the_setting(panel):
    panel.set_values(TrainingConfig(pen_digits=True))
    assert panel.pen_digits_check.isChecked()
    assert TrainingConfig(**panel.values()).pen_digits is True
    panel.pen_digits_check.setChecked(False)
    assert TrainingConfig(**panel.values()).pen_digits is False
    assert "30 people" in panel.pen_digits_check.toolTip()
