"""The Network, Training and Data panels produce the config and load data off-thread."""

from __future__ import annotations

import dataclasses
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.augment import AugmentConfig
from core.idx import write_idx
from core.presets import PRESETS
from core.training import TrainingConfig
from gui import data_panel as data_panel_module
from gui.data_panel import MNIST_LABEL, DataPanel
from gui.network_panel import NetworkPanel, parameter_count
from gui.training_panel import TrainingPanel


@pytest.fixture
def network_panel(qtbot):
    panel = NetworkPanel()
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def training_panel(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def data_panel(qtbot, data_dir):
    panel = DataPanel(data_dir)
    qtbot.addWidget(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: panel.dataset is not None, timeout=10000)
    yield panel
    panel.shutdown(5000)


def test_layers_are_added_resized_reordered_and_removed(qtbot, network_panel):
    changes = []
    network_panel.config_changed.connect(lambda: changes.append(1))
    network_panel.add_button.click()
    network_panel._rows[1].size_box.setValue(40)
    assert network_panel.hidden_sizes() == (256, 40)
    network_panel._rows[1].up_button.click()
    assert network_panel.hidden_sizes() == (40, 256)
    assert not network_panel._rows[0].up_button.isEnabled()
    assert not network_panel._rows[1].down_button.isEnabled()
    network_panel._rows[0].remove_button.click()
    assert network_panel.hidden_sizes() == (256,)
    network_panel._rows[0].remove_button.click()
    assert network_panel.hidden_sizes() == ()
    assert network_panel.no_layers_label.isVisibleTo(network_panel)
    assert len(changes) >= 5


@pytest.mark.parametrize(
    ("input_size", "classes", "hidden"),
    [(784, 10, (256,)), (64, 10, (30,)), (784, 10, (512, 256, 128)), (784, 26, ())],
)
def test_parameter_count_is_live(network_panel, input_size, classes, hidden):
    side = int(np.sqrt(input_size))
    network_panel.set_io(input_size, classes, (side, side))
    network_panel.set_hidden_sizes(hidden)
    sizes = [input_size, *hidden, classes]
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    assert parameter_count(sizes) == expected
    assert network_panel.parameters_label.text() == f"{expected:,}"
    assert network_panel.input_label.text().startswith(str(input_size))
    assert network_panel.output_label.text() == f"{classes} classes"


@pytest.mark.parametrize("name", list(PRESETS))
def test_panels_reproduce_every_preset(network_panel, training_panel, name):
    config = PRESETS[name].config
    network_panel.set_values(config)
    training_panel.set_values(config)
    built = TrainingConfig(**network_panel.values(), **training_panel.values())
    assert built == config


def test_augmentation_switch_and_amounts(training_panel):
    assert training_panel.augment_config() == AugmentConfig()
    training_panel.augment_group.setChecked(True)
    training_panel.augment_boxes["rotation"].setValue(12.0)
    training_panel.augment_boxes["shift"].setValue(2.0)
    augment = training_panel.augment_config()
    assert augment.rotation == 12.0 and augment.shift == 2.0 and augment.is_active
    training_panel.augment_group.setChecked(False)
    assert training_panel.augment_config() == AugmentConfig()


@pytest.mark.parametrize(
    ("optimizer", "visible", "hidden"),
    [
        ("adam", ["beta1_box", "beta2_box"], ["momentum_box", "nesterov_check"]),
        ("momentum", ["momentum_box", "nesterov_check"], ["beta1_box"]),
        ("sgd", [], ["momentum_box", "beta1_box"]),
    ],
)
def test_only_the_optimizers_settings_are_shown(
    training_panel, optimizer, visible, hidden
):
    combo = training_panel.optimizer_combo
    combo.setCurrentIndex(combo.findData(optimizer))
    for name in visible:
        assert getattr(training_panel, name).isVisibleTo(training_panel)
    for name in hidden:
        assert not getattr(training_panel, name).isVisibleTo(training_panel)


def test_hidden_settings_never_make_the_config_invalid(training_panel):
    combo = training_panel.optimizer_combo
    combo.setCurrentIndex(combo.findData("momentum"))
    training_panel.nesterov_check.setChecked(True)
    combo.setCurrentIndex(combo.findData("adam"))
    config = TrainingConfig(**training_panel.values())
    config.validate()
    assert config.nesterov is False


def test_learning_rate_box_steps_through_1_2_5(training_panel):
    box = training_panel.learning_rate_box
    box.setValue(0.001)
    box.stepBy(1)
    assert box.value() == pytest.approx(0.002)
    box.stepBy(1)
    assert box.value() == pytest.approx(0.005)
    box.stepBy(-3)
    assert box.value() == pytest.approx(0.0005)
    assert box.textFromValue(1e-5) == "1e-05"


def test_data_panel_loads_bundled_sets_with_examples(qtbot, data_panel):
    assert data_panel.dataset.name == "mnist-sample"
    assert data_panel.example_count == 40
    assert not data_panel.examples.pixmap().isNull()
    # The sample has its own test part, so nothing is held out of its training images.
    assert data_panel.test_set is not None and len(data_panel.test_set) == 1000
    assert data_panel.holdout is None
    assert "5,000 training images" in data_panel.info_label.text()
    loaded = []
    data_panel.dataset_loaded.connect(loaded.append)
    assert data_panel.select("digits-8x8")
    qtbot.waitUntil(lambda: len(loaded) > 0, timeout=10000)
    assert loaded[0].image_shape == (8, 8)
    assert data_panel.example_count == 40
    assert data_panel.test_set is None
    assert data_panel.holdout is not None and len(data_panel.holdout) == 180


def test_the_bundled_sets_are_listed_as_bundled(data_panel):
    combo = data_panel.dataset_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts[:4] == [
        "MNIST sample (5,000 images, bundled)",
        "8x8 digits (1,797 images, bundled)",
        "Pen digits, written on a tablet (7,494 images, bundled)",
        MNIST_LABEL,
    ]
    assert not any("imported" in text for text in texts)


def test_full_mnist_offers_the_download(qtbot, data_panel):
    assert data_panel.select("mnist")
    assert data_panel.dataset is None
    assert data_panel.download_button.isVisibleTo(data_panel)
    assert "not downloaded" in data_panel.info_label.text()


def test_failed_download_shows_the_offline_message(qtbot, data_panel, monkeypatch):
    # Port 9 on localhost refuses connections: the same path as being offline.
    monkeypatch.setattr(
        data_panel_module, "mirror_list", lambda _user: ("http://127.0.0.1:9/",)
    )
    data_panel.start_download()
    assert data_panel.cancel_download_button.isVisibleTo(data_panel)
    qtbot.waitUntil(lambda: data_panel._download_worker is None, timeout=20000)
    text = data_panel.download_message.text()
    assert data_panel.download_message.isVisibleTo(data_panel)
    assert "download failed" in text.lower() and "127.0.0.1" in text
    assert data_panel.download_button.isEnabled()


def test_import_idx_adds_and_selects_the_dataset(qtbot, data_panel, tmp_path):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 6)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    data_panel.import_files(
        "my-set",
        Path(tmp_path / "train-images-idx3-ubyte"),
        Path(tmp_path / "train-labels-idx1-ubyte"),
    )
    qtbot.waitUntil(
        lambda: data_panel.dataset is not None and data_panel.dataset.name == "my-set",
        timeout=10000,
    )
    np.testing.assert_array_equal(data_panel.dataset.images, images)
    assert data_panel.current_name() == "my-set"


def test_bad_import_explains_the_problem(qtbot, data_panel, tmp_path):
    (tmp_path / "images").write_bytes(b"not an idx file")
    (tmp_path / "labels").write_bytes(b"nope")
    data_panel.import_files("bad", tmp_path / "images", tmp_path / "labels")
    qtbot.waitUntil(lambda: data_panel.import_button.isEnabled(), timeout=10000)
    assert data_panel.info_label.text().startswith("Import failed:")


def test_personal_count_follows_the_drawings(qtbot, data_panel, data_dir):
    from core.personal_set import PersonalSet

    assert not data_panel.personal_check.isEnabled()
    PersonalSet(data_dir).add(data_panel.dataset.images[0], 3, "mnist")
    data_panel.update_personal_count()
    assert data_panel.personal_check.text() == "Include my drawings (1)"
    data_panel.personal_check.setChecked(True)
    assert data_panel.include_personal()


def test_config_dataclass_fields_are_all_covered(network_panel, training_panel):
    produced = set(network_panel.values()) | set(training_panel.values())
    assert produced == {f.name for f in dataclasses.fields(TrainingConfig)}


def test_example_mosaic_has_one_column_per_class():
    from core.datasets import load_bundled
    from gui.data_panel import example_mosaic

    digits = load_bundled("digits-8x8")
    mosaic = example_mosaic(digits, 4)
    assert mosaic.shape == (4 * 9 + 1, 10 * 9 + 1) and mosaic.dtype == np.uint8
    cell = mosaic[1:9, 1 + 3 * 9 : 9 + 3 * 9]  # row 0, class 3
    scaled = np.rint(digits.images.astype(np.float64) * (255 / 16))
    matches = [np.array_equal(cell, im) for im in scaled]
    assert any(matches)
    assert digits.labels[int(np.flatnonzero(matches)[0])] == 3


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.send_response(200)
        self.send_header("Content-Length", str(9_912_422))  # train-images' size
        self.end_headers()
        try:
            for _ in range(400):
                self.wfile.write(b"\0" * 16384)
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_shows_progress_and_can_be_cancelled(
    qtbot, data_panel, monkeypatch, slow_server
):
    monkeypatch.setattr(data_panel_module, "mirror_list", lambda _user: (slow_server,))
    data_panel.start_download()
    qtbot.waitUntil(lambda: data_panel.download_progress.value() > 0, timeout=10000)
    assert "MB" in data_panel.download_progress.text()
    data_panel.cancel_download_button.click()
    qtbot.waitUntil(lambda: data_panel._download_worker is None, timeout=10000)
    assert "cancelled" in data_panel.download_message.text().lower()
    assert not data_panel.cancel_download_button.isVisibleTo(data_panel)


def test_import_dialog_finds_the_labels_and_asks_a_name(
    qtbot, data_panel, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    folder = tmp_path / "emnist"
    folder.mkdir()
    rng = np.random.default_rng(5)
    write_idx(
        folder / "train-images-idx3-ubyte", rng.integers(0, 256, (30, 28, 28), np.uint8)
    )
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(30, dtype=np.uint8) % 10)
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileName",
        lambda *a, **k: (str(folder / "train-images-idx3-ubyte"), ""),
    )
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("from-dialog", True))
    data_panel.import_button.click()
    qtbot.waitUntil(
        lambda: (
            data_panel.dataset is not None and data_panel.dataset.name == "from-dialog"
        ),
        timeout=10000,
    )
    assert len(data_panel.dataset) == 30


def test_a_user_mirror_replaces_the_built_in_list(monkeypatch):
    from core.download import DEFAULT_MIRRORS
    from gui.download_worker import mirror_list

    monkeypatch.delenv("DIGIT_STUDIO_MNIST_MIRROR", raising=False)
    assert mirror_list("") == DEFAULT_MIRRORS
    assert mirror_list(" http://127.0.0.1:8000/mnist ") == (
        "http://127.0.0.1:8000/mnist/",
    )
    monkeypatch.setenv("DIGIT_STUDIO_MNIST_MIRROR", "file:///srv/mnist/")
    assert mirror_list("") == ("file:///srv/mnist/",)
    assert mirror_list("http://lab/mnist/") == ("http://lab/mnist/",)


def _broken_import(data_dir):
    from core import dataset_store

    rng = np.random.default_rng(5)
    folder = data_dir / "idx"
    folder.mkdir()
    write_idx(folder / "i.gz", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    write_idx(folder / "l.gz", rng.integers(0, 10, 20, dtype=np.uint8))
    dataset_store.import_idx(data_dir, "broken", folder / "i.gz", folder / "l.gz")
    for path in (data_dir / "datasets" / "broken").glob("train-images*"):
        path.write_bytes(b"not an idx file")


def test_a_dataset_that_fails_to_load_says_why(qtbot, data_panel, data_dir):
    _broken_import(data_dir)
    data_panel.refresh()
    assert data_panel.select("broken")
    qtbot.waitUntil(
        lambda: "Cannot load" in data_panel.info_label.text(), timeout=10000
    )
    assert data_panel.dataset is None


def test_only_the_latest_load_can_report_a_failure(qtbot, data_panel):
    loaded = data_panel.dataset
    # Not sent by the latest load's worker: an outdated load failing late.
    data_panel.on_load_failed("an old load failed")
    assert data_panel.dataset is loaded
    assert "Cannot load" not in data_panel.info_label.text()


def _import_small_set(qtbot, data_panel, tmp_path, name="my-set"):
    rng = np.random.default_rng(4)
    write_idx(tmp_path / "i", rng.integers(0, 256, (30, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "l", np.repeat(np.arange(10, dtype=np.uint8), 3))
    data_panel.import_files(name, tmp_path / "i", tmp_path / "l")
    qtbot.waitUntil(
        lambda: data_panel.dataset is not None and data_panel.dataset.name == name,
        timeout=10000,
    )


def test_remove_deletes_an_imported_dataset_after_asking(
    qtbot, data_panel, data_dir, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from core import dataset_store

    _import_small_set(qtbot, data_panel, tmp_path)
    assert data_panel.remove_button.isEnabled()
    asked = []

    def answer(choice):
        def question(*args, **kwargs):
            asked.append(args[2])
            return choice

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    data_panel.remove_button.click()
    assert "my-set" in asked[0]
    assert data_panel.is_available("my-set")

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    data_panel.remove_button.click()
    qtbot.waitUntil(
        lambda: (
            data_panel.dataset is not None and data_panel.dataset.name == "mnist-sample"
        ),
        timeout=10000,
    )
    assert not data_panel.is_available("my-set")
    assert not dataset_store.dataset_path(data_dir, "my-set").exists()
    assert data_panel.dataset_combo.findData("my-set") < 0
    # The bundled sample is now chosen, and bundled sets cannot be removed.
    assert not data_panel.remove_button.isEnabled()


def test_remove_is_locked_while_training_and_failures_are_explained(
    qtbot, data_panel, tmp_path
):
    _import_small_set(qtbot, data_panel, tmp_path)
    data_panel.set_locked(True)
    assert not data_panel.remove_button.isEnabled()
    data_panel.set_locked(False)
    assert data_panel.remove_button.isEnabled()
    data_panel.remove_dataset("no-such-set")
    qtbot.waitUntil(lambda: data_panel.remove_button.isEnabled(), timeout=10000)
    assert data_panel.info_label.text().startswith("Could not remove the dataset:")
    assert "no-such-set" in data_panel.info_label.text()
    assert data_panel.current_name() == "my-set"
