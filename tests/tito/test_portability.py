"""tito on a simulated Windows: no fcntl, no os.killpg or os.setsid, a cp1252 console.

The real thing runs in the GitHub Actions matrix (.github/workflows/ci.yml); these tests let a
Linux machine catch the same mistakes. `tito` runs as a subprocess whose interpreter starts
with a `sitecustomize` that takes the POSIX-only pieces away, in a course folder whose path
has spaces and non-ASCII letters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.coursekit import add_module, make_course
from tito.course import processes

ROOT = Path(__file__).resolve().parents[2]
# Not importable on Windows. The simulation blocks only fcntl (psutil itself needs resource
# and pwd on Linux); tito's own modules are checked against the whole list.
POSIX_ONLY = ("fcntl", "resource", "termios", "pwd", "grp", "pty", "tty")
SIMULATE_WINDOWS = """
import os, sys
sys.modules["fcntl"] = None  # `import fcntl` now raises ImportError, as on Windows
for name in ("killpg", "setsid"):
    if hasattr(os, name):
        delattr(os, name)
"""

MODULE = """
# %%
#| default_exp core.greet
#| export
def greet(name):
    ### BEGIN SOLUTION
    return f"Grüße, {name} ✓"
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "t", "locked": true, "points": 1}
def test_greet():
    print("Schöne Grüße ✓ → 🎉")
    assert greet("Zoë") == "Grüße, Zoë ✓"
"""

HANGING = """
# %%
import os, subprocess, sys, time

def test_hangs():
    # A grandchild that must die with the test: the tree kill, not just the child.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(os.environ["TITO_TEST_PIDFILE"], "w") as handle:
        handle.write(str(child.pid))
    time.sleep(120)
"""

FAILING = """
# %%
def test_message():
    assert False, "erwartet: Grüße ✓ → 🎉"
"""


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "Kurs mit Leerzeichen — façade" / "course é")
    add_module(root, "01_greet", MODULE, exports=["greet"])
    # generous: on a loaded machine, starting tito, the harness and the grandchild takes seconds
    add_module(root, "02_hang", HANGING, prerequisites=[], test_timeout=8)
    return root


@pytest.fixture
def windows(tmp_path):
    """A PYTHONPATH folder whose sitecustomize simulates Windows in every `tito` it starts."""
    folder = tmp_path / "simulate-windows"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(textwrap.dedent(SIMULATE_WINDOWS))
    return folder


def run_tito(course: Path, windows: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=os.pathsep.join([str(windows), str(ROOT)]),
        PYTHONIOENCODING="cp1252",  # the console's code page, strict: rich's output cannot fit
        COLUMNS="100",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "tito", *args],
        cwd=course,
        env=environment,
        capture_output=True,
        timeout=120,
    )


def text(done: subprocess.CompletedProcess) -> str:
    # tito switched its streams to UTF-8: every byte must decode.
    return done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def test_the_simulation_takes_the_posix_pieces_away(course, windows):
    probe = (
        "import os\n"
        "try:\n"
        "    import fcntl\n"
        "except ImportError:\n"
        "    print('no fcntl', hasattr(os, 'killpg'), hasattr(os, 'setsid'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(windows)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "no fcntl False False", done.stderr


def test_status_and_complete_work_without_traceback(course, windows):
    status = run_tito(course, windows, "status")
    assert status.returncode == 0, text(status)
    assert "0 of 2 modules completed" in text(status)
    done = run_tito(course, windows, "module", "complete", "01_greet")
    output = text(done)
    assert done.returncode == 0, output
    assert "Completed 01_greet" in output and "Traceback" not in output
    assert "1 of 2 modules completed" in text(run_tito(course, windows, "status"))
    generated = course / "tinytorch" / "core" / "greet.py"
    assert "Grüße" in generated.read_text(encoding="utf-8")
    assert b"\r\n" not in generated.read_bytes()


def test_a_hung_test_is_killed_with_its_whole_tree(course, windows, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    done = run_tito(course, windows, "module", "test", "02_hang", TITO_TEST_PIDFILE=str(pidfile))
    output = text(done)
    assert done.returncode == 1, output
    assert "Timed out after 8 s in test_hangs" in output and "Traceback" not in output
    assert not process_alive(int(pidfile.read_text()))


def test_every_tito_module_imports_without_posix_only_modules(windows):
    probe = (
        "import importlib, pkgutil, sys\n"
        f"sys.modules.update(dict.fromkeys({POSIX_ONLY!r}))\n"
        "import tito\n"
        "for info in pkgutil.walk_packages(tito.__path__, 'tito.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(windows), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_a_cp1252_console_gets_utf8_instead_of_a_crash(course, windows):
    add_module(course, "03_fail", FAILING)
    done = run_tito(course, windows, "module", "test", "03_fail")
    output = text(done)
    assert done.returncode == 1 and "UnicodeEncodeError" not in output, output
    frames = [line for line in output.splitlines() if line.strip().startswith('File "')]
    assert frames and all("fail_dev.py" in line for line in frames)  # the student's code only
    assert "erwartet: Grüße ✓ → 🎉" in output  # the student's message, through rich, intact
    assert "━" in output  # rich's table borders


def test_kill_tree_without_process_groups_uses_psutil(monkeypatch, tmp_path):
    """In-process: with killpg and setsid gone, spawn makes no group and psutil kills."""
    monkeypatch.delattr(os, "killpg")
    monkeypatch.delattr(os, "setsid")
    pidfile = tmp_path / "pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    # Generous: the grandchild must have started (and written its pid) before the kill.
    finished = processes.run([sys.executable, "-c", script], cwd=tmp_path, timeout=8)
    assert finished.timed_out
    assert not process_alive(int(pidfile.read_text()))


def process_alive(pid: int) -> bool:
    """True if `pid` runs (a zombie waiting for its reaper counts as dead)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
