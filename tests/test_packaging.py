"""The wheel is a working app: built from a copy of the checkout, installed into a
fresh virtual environment, and run from a folder outside the source tree.

pip takes the dependencies from its usual index and cache, so this needs either a
reachable index or a warm cache.
"""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pip
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Nothing of the checkout's build state or environments goes into the copy.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
)
BUNDLED_FILES = [
    f"resources/{name}/train-{kind}-ubyte.gz"
    for name in ("mnist-sample", "digits-8x8", "pen-digits")
    for kind in ("images-idx3", "labels-idx1")
]
# The window is up once a top-level widget is visible; then the event loop quits.
_OPEN_AND_QUIT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import main

app = QApplication(["digit-studio"])

def quit_once_shown():
    titles = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
    if titles:
        print("shown:", *titles)
        app.quit()

timer = QTimer()
timer.timeout.connect(quit_once_shown)
timer.start(50)
sys.exit(main.main([]))
"""


def _run(command, timeout, **kwargs):
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def _bin(environment: Path, name: str) -> Path:
    folder = environment / ("Scripts" if sys.platform == "win32" else "bin")
    suffix = ".exe" if sys.platform == "win32" else ""
    return folder / f"{name}{suffix}"


def _pip_can_install_elsewhere() -> bool:
    """pip 22.3 and later install into another interpreter's environment."""
    major, minor = (int(part) for part in pip.__version__.split(".")[:2])
    return (major, minor) >= (22, 3)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel, install it with its dependencies into a new environment.

    Returns ``(wheel, environment, clean_env)``; ``clean_env`` is the process
    environment without anything that could bring the checkout onto the path.
    """
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
    }
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist",
         source],
        timeout=600, env=clean_env,
    )  # fmt: skip
    (wheel,) = (work / "dist").glob("digit_studio-*.whl")
    environment = work / "env"
    # Without its own pip the environment is made in a fraction of the time; the
    # running pip installs into it.
    own_pip = not _pip_can_install_elsewhere()
    venv.EnvBuilder(with_pip=own_pip, system_site_packages=False).create(environment)
    python = _bin(environment, "python")
    pip_command = (
        [python, "-m", "pip"]
        if own_pip
        else [sys.executable, "-m", "pip", "--python", python]
    )
    _run([*pip_command, "install", "--no-compile", wheel], timeout=600, env=clean_env)
    return wheel, environment, clean_env


def test_the_wheel_holds_the_app_and_its_data_but_not_bench_or_tools(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(
            n for n in names if n.endswith(".dist-info/entry_points.txt")
        )
        scripts = archive.read(entry_points).decode()
    top_level = {name.split("/")[0] for name in names}
    assert {n for n in top_level if not n.endswith(".dist-info")} == {
        "core", "gui", "cli", "resources", "main.py",
    }  # fmt: skip
    assert "resources/__init__.py" in names
    for path in BUNDLED_FILES:
        assert path in names
    assert "digit-studio = main:main" in scripts


def test_the_installed_app_trains_and_reports_outside_the_source_tree(
    installed, tmp_path
):
    _, environment, clean_env = installed
    env = dict(clean_env, DIGIT_STUDIO_DATA_DIR=str(tmp_path / "data"))
    python = _bin(environment, "python")
    where = _run(
        [python, "-c",
         "import core, gui, cli, resources, main, importlib.util as u; "
         "print(core.__file__, gui.__file__, cli.__file__, resources.__file__, "
         "main.__file__, u.find_spec('bench'), u.find_spec('tools'), sep='\\n')"],
        timeout=120, env=env, cwd=tmp_path,
    ).stdout.split()  # fmt: skip
    for path in where[:5]:
        assert Path(path).is_relative_to(environment), where
    assert where[5:] == ["None", "None"]

    app = _bin(environment, "digit-studio")
    listed = _run([app, "datasets"], timeout=120, env=env, cwd=tmp_path).stdout
    assert (
        "5,000 + 1,000 test images of 28x28" in listed
        and "1,797 images of 8x8" in listed
    )
    trained = _run(
        [app, "train", "--dataset", "mnist-sample", "--subset", "1000",
         "--layers", "16", "--epochs", "1", "--out", "m.npz"],
        timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert "epoch 1/1" in trained.stdout
    assert (tmp_path / "m.npz").is_file()
    info = _run([app, "info", "--model", "m.npz"], timeout=120, env=env, cwd=tmp_path)
    assert "784-16-10" in info.stdout
    assert "mnist-sample" in info.stdout
    assert "900 training images" in info.stdout


def test_the_installed_app_opens_its_window(installed, tmp_path):
    _, environment, clean_env = installed
    env = dict(
        clean_env,
        QT_QPA_PLATFORM="offscreen",
        DIGIT_STUDIO_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    shown = _run(
        [_bin(environment, "python"), "-c", _OPEN_AND_QUIT],
        timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert "shown:" in shown.stdout and "Digit Studio" in shown.stdout
    assert "Traceback" not in shown.stderr
