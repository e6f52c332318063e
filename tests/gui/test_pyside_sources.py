import linecache
import sys

import gui  # noqa: F401  (puts the uncached reading in place)


def test_pyside_asks_about_imports_without_keeping_their_source(tmp_path, monkeypatch):
    feature = sys.modules["shibokensupport.feature"]
    (tmp_path / "uses_qt_here.py").write_text("import PySide6.QtCore\nX = 1\n")
    (tmp_path / "plain_here.py").write_text("import json\nX = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("uses_qt_here", "plain_here"):
        __import__(name)  # as an import statement does (PySide6 hooks __import__)
        monkeypatch.delitem(sys.modules, name)
    # The hook asks about each module that imports: one that mentions PySide6 may
    # switch features, the others are left alone.
    assert feature.pyside_feature_dict["uses_qt_here"] == 0
    assert feature.pyside_feature_dict["plain_here"] == -1
    # ...and the files' lines are not kept for the life of the process.
    assert not any(str(tmp_path) in path for path in linecache.cache)
