"""Resource limits for code being graded: CPU time, memory, processes, file size.

Applied in the child process just before it runs the student's code (as a `preexec_fn`), on
POSIX with `resource.setrlimit`. `resource` is imported inside the functions, never at module
level, so this module (and everything that imports it) still imports on Windows, where limits
are skipped and only the wall-clock timeout applies.

What each limit stops:
- CPU seconds: a busy loop in a process that escaped the timeout's process-group kill;
- address space: a runaway allocation (`np.zeros(10**12)`) before it takes the machine down;
- processes: a fork bomb (Linux counts this per user, so we allow the user's current number
  of tasks plus a margin; root is exempt from it);
- file size: a test that fills the disk;
- core files: none.

Limits are not a sandbox: the code still runs as the grading user and can read what that user
can read (see docs/grading.md, "Trust boundary").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Per-process limits; None leaves that limit as it is."""

    cpu_seconds: int | None = None  # set from the module's timeout by `for_timeout`
    memory_bytes: int | None = 4 * GIB  # address space; NumPy and BLAS threads reserve some
    extra_processes: int | None = 256  # tasks (processes and threads) beyond the user's current
    file_bytes: int | None = 256 * MIB

    def for_timeout(self, seconds: float) -> Limits:
        """CPU time follows the wall-clock timeout: BLAS threads may use two cores at once,
        so allow twice the timeout plus a margin; the timeout itself still stops the run."""
        return replace(self, cpu_seconds=int(seconds * 2) + 10)


DEFAULT_LIMITS = Limits()


def supported() -> bool:
    """Whether limits can be applied here (POSIX with the `resource` module)."""
    if os.name != "posix":
        return False
    try:
        import resource  # noqa: F401 - only asking whether it exists
    except ImportError:
        return False
    return True


def preexec(limits: Limits | None) -> Callable[[], None] | None:
    """A `preexec_fn` that applies `limits` in the child, or None where they cannot apply.

    The task count is read here, in the parent, because reading /proc after fork would be
    slow and is not safe in a child of a threaded parent.
    """
    if limits is None or not supported():
        return None
    processes = _process_limit(limits.extra_processes)

    def apply() -> None:
        apply_limits(limits, processes)

    return apply


def apply_limits(limits: Limits, processes: int | None = None) -> None:
    """Lower this process's limits (never raise them above the current hard limits)."""
    import resource

    wanted = {
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_FSIZE: limits.file_bytes,
        resource.RLIMIT_CORE: 0,
    }
    if processes is not None and hasattr(resource, "RLIMIT_NPROC"):
        wanted[resource.RLIMIT_NPROC] = processes
    for kind, value in wanted.items():
        if value is None:
            continue
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # CPU: the soft limit sends SIGXCPU (which kills), the hard one SIGKILL a bit later.
        new_hard = hard if kind != resource.RLIMIT_CPU else _at_most(value + 5, hard)
        try:
            resource.setrlimit(kind, (value, new_hard))
        except (ValueError, OSError):
            pass  # a platform that refuses one limit still gets the others


def _at_most(value: int, hard: int) -> int:
    import resource

    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def _process_limit(extra: int | None) -> int | None:
    """The user's current number of tasks plus `extra` (Linux counts threads too)."""
    if extra is None:
        return None
    return _user_tasks() + extra


def _user_tasks() -> int:
    """How many tasks (processes and threads) this user runs now; a guess off Linux."""
    if not sys.platform.startswith("linux"):
        return 1024
    uid = os.getuid()
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 1024
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                status = handle.read()
        except OSError:
            continue  # the process ended while we looked
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count
