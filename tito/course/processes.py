"""Child processes: a clean environment, their own process group, a whole-tree kill, a timeout.

Every process tito starts (a module's tests, the import check, a milestone, the doctor's
import) goes through `spawn`, so the portability choices live here once:

- The child gets tito's environment without PYTHONPATH/PYTHONHOME (the course root is put on
  `sys.path` explicitly, never inherited from whatever the student's shell holds) and with
  UTF-8 I/O, so its output decodes the same on a cp1252 Windows console as on Linux.
- Its BLAS runs one thread unless the user set a count (any of `BLAS_THREADS`): a module's tests
  that time a matrix product then measure the same thing on a busy machine as on an idle one,
  instead of fighting every other process for the cores. A milestone opts out: it trains a
  model and may use every core.
- On POSIX the child starts a new session, so `os.killpg` reaches every process it started,
  even those whose parent already exited. On Windows it starts a new process group, and a kill
  walks the tree with psutil (what `taskkill /T` does); the same psutil walk is used wherever
  `os.killpg` is missing.
- `preexec`, when given, runs in the child between fork and exec (POSIX only): the grading
  helper uses it to set resource limits. Windows cannot run code there, so it is ignored there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tito.course.errors import TitoError

OUTPUT_TAIL = 4000  # characters of a finished process's output kept by `run`
# What OpenBLAS, OpenMP (and so most BLAS builds) and MKL read for their thread count.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
Preexec = Callable[[], None]


@dataclass(frozen=True)
class Finished:
    """What `run` saw: exit code (None if killed before it had one), output tails, timing."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


def child_env(
    *,
    pythonpath: Sequence[str | Path] = (),
    extra: dict[str, str] | None = None,
    blas_threads: int | None = 1,
) -> dict[str, str]:
    """tito's environment for a child Python: no inherited PYTHONPATH/PYTHONHOME, UTF-8 I/O,
    BLAS on `blas_threads` threads unless the user set a count (None: BLAS decides)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # One count set by the user leaves all three alone: OpenBLAS prefers its own variable to
    # OMP_NUM_THREADS, so filling in the others would overrule the user's choice.
    if blas_threads is not None and not any(name in env for name in BLAS_THREADS):
        env.update(dict.fromkeys(BLAS_THREADS, str(blas_threads)))
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONUTF8="1",
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("MPLBACKEND", "Agg")  # plots go to files; no window pops up mid-test
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    env.update(extra or {})
    return env


def spawn(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin=subprocess.DEVNULL,
    stdout=None,
    stderr=None,
    text: bool = False,
    preexec: Preexec | None = None,
) -> subprocess.Popen:
    """Start `command` in its own process group (see the module docstring); `text` is UTF-8."""
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        # Decided by what `os` offers, not by the platform's name: the tests' simulated Windows
        # (no setsid, no killpg) then takes the psutil path that Windows takes.
        options["start_new_session"] = _has_process_groups()
        if preexec is not None:
            options["preexec_fn"] = preexec
    if text:
        options.update(text=True, encoding="utf-8", errors="replace")
    try:
        return subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=env if env is not None else child_env(),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            **options,
        )
    except OSError as error:
        raise TitoError(f"Could not start {command[0]} ({error.strerror or error}).") from None


def kill_tree(process: subprocess.Popen) -> None:
    """Kill `process` and everything it started; quiet if they are already gone."""
    if _has_process_groups():
        import signal

        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return
    _kill_with_psutil(process)


def _has_process_groups() -> bool:
    """POSIX with setsid and killpg: `spawn` made the child a group leader, one kill ends all."""
    return os.name != "nt" and hasattr(os, "setsid") and hasattr(os, "killpg")


def _kill_with_psutil(process: subprocess.Popen) -> None:
    """Kill the children (recursively) first, then the process itself.

    Only while the process is still ours: once it has been reaped its pid may belong to a
    stranger. Children it left behind after exiting cannot be found this way (on Windows a
    job object would be needed for that); a test that starts background processes and exits
    is rare enough to accept this.
    """
    if process.poll() is not None:
        return
    try:
        import psutil
    except ImportError:  # psutil is a dependency; this only guards a broken install
        _kill_one(process)
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            continue
    _kill_one(process)


def _kill_one(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            process.kill()
        except OSError:
            pass


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    preexec: Preexec | None = None,
    tail: int = OUTPUT_TAIL,
) -> Finished:
    """Run to the end or to `timeout` seconds (then kill the tree); output decoded as UTF-8.

    Output goes to files, not pipes: a grandchild that escaped and still holds a pipe open
    would otherwise keep us waiting for an end-of-file that never comes.
    """
    with tempfile.TemporaryDirectory(prefix="tito-run-") as scratch:
        out_path, err_path = Path(scratch, "stdout"), Path(scratch, "stderr")
        started = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = spawn(command, cwd=cwd, env=env, stdout=out, stderr=err, preexec=preexec)
            timed_out = wait(process, timeout)
        seconds = time.perf_counter() - started
        return Finished(
            process.returncode,
            read_tail(out_path, tail),
            read_tail(err_path, tail),
            timed_out,
            seconds,
        )


def wait(process: subprocess.Popen, timeout: float) -> bool:
    """Wait for `process`; past `timeout` kill its tree. True if it timed out.

    Whatever it started in the background is killed too once it ends, and on Ctrl-C.
    """
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_tree(process)
        process.wait()
    except BaseException:
        kill_tree(process)
        process.wait()
        raise
    kill_tree(process)  # leftovers a finished run started in the background
    return timed_out


def read_tail(path: Path, limit: int = OUTPUT_TAIL) -> str:
    """About the last `limit` characters of a file a process wrote, decoded as UTF-8."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - limit))
        return handle.read().decode("utf-8", errors="replace")


def python() -> str:
    """The interpreter tito runs on: children use the same one (and so the same venv)."""
    return sys.executable
