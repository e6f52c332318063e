"""The window meets FIFOs and links: errors at once in a dialog, nothing replaced."""

import os
import stat

import numpy as np
from special_files import make_fifo, released_after
from template_model import template_model

from core.model_io import save_model
from core.personal_set import PersonalSet

DRAWING_ID = "20260101T000000000000-0123abcd"


def test_opening_a_fifo_shows_the_error_at_once(window, tmp_path, dialogs):
    fifo = make_fifo(tmp_path / "model.npz")
    with released_after(fifo) as guard:
        assert not window.files.open_path(fifo)
    assert not guard.fired, "Open waited on the FIFO"
    ((_, title, text),) = dialogs.of_kind("critical")
    assert title == "Cannot open the model" and "it is a FIFO" in text
    assert window.document.path is None


def test_save_as_refuses_a_fifo_and_a_link(window, tmp_path, dialogs):
    model = template_model()
    source = tmp_path / "m.npz"
    save_model(source, model.network, model.metadata)
    assert window.files.open_path(source)
    fifo = make_fifo(tmp_path / "pipe.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(source)
    before = source.read_bytes()
    for target, what in ((fifo, "it is a FIFO"), (link, "it is a symbolic link")):
        assert not window.files.save_to(target)
        _, title, text = dialogs.of_kind("critical")[-1]
        assert title == "Cannot save the model" and what in text
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert source.read_bytes() == before and window.document.path == source


def test_a_fifo_among_personal_drawings_does_not_stop_the_window(
    qtbot, app_settings, data_dir
):
    from gui.main_window import MainWindow

    personal = PersonalSet(data_dir)
    personal.add(np.full((28, 28), 9, np.uint8), 4, "mnist")
    fifo = make_fifo(personal.folder("mnist") / f"{DRAWING_ID}.npz")
    with released_after(fifo) as guard:
        main = MainWindow(settings=app_settings, data_dir=data_dir)
        qtbot.addWidget(main)
        main.show()
        gallery = main.draw_tab.gallery
        gallery.refresh()
        qtbot.waitUntil(lambda: not gallery.reading(), timeout=10000)
    assert not guard.fired, "reading the drawings waited on the FIFO"
    assert gallery.count() == 1
    assert "1 unreadable file skipped" in gallery.title.text()
    qtbot.waitUntil(lambda: main.data_panel.dataset is not None, timeout=10000)
    main.data_panel.shutdown(5000)
