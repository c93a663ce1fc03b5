"""The course's progress file, `.tito/progress.json`: atomic writes under a file lock.

One file, one schema:

    {"version": 1,
     "modules": {"01_tensor": {"state": "completed", "started_at": ..., "completed_at": ...,
                               "tests": {...summary...}, "source_sha256": "..."}},
     "milestones": {"xor": {"runs": [{...}], "best": {...}}}}

Every update is read-modify-write under an exclusive `fcntl` lock on `.tito/lock`, and the
new file replaces the old one with `os.replace` after an fsync, so two tito processes never
lose each other's updates and a crash never leaves half a file. A file that cannot be parsed
is moved aside (`progress.json.corrupt-<time>`) with a warning, never silently discarded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tito.course.errors import CHECK_FAILED, TitoError

SCHEMA_VERSION = 1
LOCK_TIMEOUT = 60.0
MAX_RUNS_KEPT = 20


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def empty_progress() -> dict:
    return {"version": SCHEMA_VERSION, "modules": {}, "milestones": {}}


@dataclass
class Progress:
    """The parsed progress file plus any warnings raised while reading it."""

    data: dict
    warnings: list[str] = field(default_factory=list)

    def module(self, module_id: str) -> dict:
        return self.data["modules"].get(module_id, {})

    def is_completed(self, module_id: str) -> bool:
        return self.module(module_id).get("state") == "completed"

    def milestone(self, milestone_id: str) -> dict:
        return self.data["milestones"].get(milestone_id, {})


def progress_path(state_dir: Path) -> Path:
    return state_dir / "progress.json"


@contextlib.contextmanager
def course_lock(state_dir: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the course's exclusive lock; wait up to `timeout` s for another tito to finish."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TitoError(
                        f"Another tito process (pid {_lock_owner(path)}) is still updating "
                        f"this course after {timeout:.0f} s.",
                        hint="Wait for it to finish, then run the command again.",
                        exit_code=CHECK_FAILED,
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_owner(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def read_progress(state_dir: Path) -> Progress:
    """Read the progress file; a missing file is empty progress, a corrupt one is set aside."""
    path = progress_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Progress(empty_progress())
    except OSError as exc:
        raise TitoError(f"{path} cannot be read ({exc}).") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        problem = _schema_problem(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = f"it is not valid JSON ({exc})"
    if problem is None:
        return Progress(data)
    aside = _move_aside(path)
    warning = (
        f"The progress file {path} was unreadable ({problem}); it was moved to {aside.name} "
        "and a fresh one was started."
    )
    return Progress(empty_progress(), [warning])


def update_progress(state_dir: Path, change: Callable[[dict], None]) -> Progress:
    """Apply `change` to the progress data under the lock and write it back atomically."""
    with course_lock(state_dir):
        progress = read_progress(state_dir)
        change(progress.data)
        write_atomic(progress_path(state_dir), json.dumps(progress.data, indent=2) + "\n")
    return progress


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _schema_problem(data) -> str | None:
    if not isinstance(data, dict):
        return "the top level is not an object"
    if data.get("version") != SCHEMA_VERSION:
        return f"unknown version {data.get('version')!r}"
    for key in ("modules", "milestones"):
        if not isinstance(data.get(key), dict):
            return f"'{key}' is not an object"
    return None


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    os.replace(path, aside)
    return aside


# -- the changes tito makes -------------------------------------------------------------------


def mark_started(module_id: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        entry = data["modules"].setdefault(module_id, {})
        entry.setdefault("started_at", now_iso())
        if entry.get("state") != "completed":
            entry["state"] = "started"

    return change


def mark_tested(module_id: str, summary: dict) -> Callable[[dict], None]:
    """Record a test run that did not complete the module (it stays started or completed)."""

    def change(data: dict) -> None:
        mark_started(module_id)(data)
        data["modules"][module_id]["last_test"] = summary

    return change


def mark_completed(module_id: str, summary: dict, source_sha256: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        mark_started(module_id)(data)
        entry = data["modules"][module_id]
        entry.update(
            state="completed",
            completed_at=now_iso(),
            tests=summary,
            last_test=summary,
            source_sha256=source_sha256,
        )

    return change


def mark_reset(module_id: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["modules"].pop(module_id, None)

    return change


def record_milestone_run(milestone_id: str, run: dict) -> Callable[[dict], None]:
    """Append a run (keeping the last few) and keep the best: passed first, then accuracy."""

    def change(data: dict) -> None:
        entry = data["milestones"].setdefault(milestone_id, {"runs": [], "best": None})
        entry["runs"] = (entry.get("runs") or [])[-(MAX_RUNS_KEPT - 1) :] + [run]
        best = entry.get("best")
        if best is None or _run_rank(run) > _run_rank(best):
            entry["best"] = run

    return change


def _run_rank(run: dict) -> tuple:
    result = run.get("result") or {}
    accuracy = result.get("accuracy")
    return (bool(run.get("passed")), accuracy if isinstance(accuracy, int | float) else -1.0)
