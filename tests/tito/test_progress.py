"""The progress file: atomic, locked, corrupt files set aside, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from tito.course.errors import TitoError
from tito.course.progress import (
    course_lock,
    mark_completed,
    mark_reset,
    mark_started,
    read_progress,
    record_milestone_run,
    update_progress,
)


def test_missing_file_is_empty_progress(tmp_path):
    progress = read_progress(tmp_path / ".tito")
    assert progress.data["modules"] == {} and progress.warnings == []


def test_module_lifecycle(tmp_path):
    state = tmp_path / ".tito"
    update_progress(state, mark_started("01_tensor"))
    assert read_progress(state).module("01_tensor")["state"] == "started"
    update_progress(state, mark_completed("01_tensor", {"passed": 3, "total": 3}, "ab" * 32))
    entry = read_progress(state).module("01_tensor")
    assert entry["state"] == "completed" and entry["source_sha256"] == "ab" * 32
    assert "started_at" in entry and "completed_at" in entry
    update_progress(state, mark_started("01_tensor"))
    assert read_progress(state).is_completed("01_tensor"), "start does not undo completion"
    update_progress(state, mark_reset("01_tensor"))
    assert read_progress(state).module("01_tensor") == {}


@pytest.mark.parametrize("content", ["{not json", "[]", '{"version": 99}', "\xff\xfe"])
def test_corrupt_file_is_moved_aside_with_a_warning(tmp_path, content):
    state = tmp_path / ".tito"
    state.mkdir()
    (state / "progress.json").write_bytes(content.encode("latin-1"))
    progress = read_progress(state)
    assert progress.data["modules"] == {}
    assert len(progress.warnings) == 1 and "moved to progress.json.corrupt-" in progress.warnings[0]
    aside = [p for p in state.iterdir() if p.name.startswith("progress.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content.encode("latin-1"), "kept as is"


def test_milestone_best_run_prefers_passed_then_accuracy(tmp_path):
    state = tmp_path / ".tito"
    for passed, accuracy in ((False, 0.99), (True, 0.96), (True, 0.95)):
        run = {"passed": passed, "result": {"passed": passed, "accuracy": accuracy}}
        update_progress(state, record_milestone_run("tinygpt", run))
    entry = read_progress(state).milestone("tinygpt")
    assert len(entry["runs"]) == 3 and entry["best"]["result"]["accuracy"] == 0.96


def test_a_speed_milestone_keeps_its_fastest_passing_run(tmp_path):
    """No accuracy (the profile milestone): the best run is the passing one with the speedup."""
    from tito.cli.status import best_result

    state = tmp_path / ".tito"
    for passed, speedup in ((True, 1.1), (False, 3.0), (True, 1.3), (True, 1.2)):
        run = {"passed": passed, "result": {"accuracy": None, "speedup": speedup}}
        update_progress(state, record_milestone_run("profile", run))
    best = read_progress(state).milestone("profile")["best"]
    assert best["result"]["speedup"] == 1.3
    assert best_result(best) == "1.30x faster"
    assert best_result({"result": {"accuracy": 0.5, "speedup": 2.0}}) == "accuracy 0.500"
    assert best_result(None) == ""


def _complete_many(state_dir: str, worker: int, count: int) -> None:
    for index in range(count):
        update_progress(
            __import__("pathlib").Path(state_dir),
            mark_completed(f"{worker:02d}_{index:03d}", {"passed": 1, "total": 1}, "0" * 64),
        )


def test_concurrent_writers_lose_nothing(tmp_path):
    state = tmp_path / ".tito"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_complete_many, args=(str(state), worker, 40)) for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    data = json.loads((state / "progress.json").read_text())
    assert len(data["modules"]) == 4 * 40
    assert not [p for p in os.listdir(state) if p.startswith(".progress.json.")], "no temp files"


def test_lock_held_elsewhere_times_out_with_one_sentence(tmp_path):
    state = tmp_path / ".tito"
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()

    def hold():
        with course_lock(state):
            ready.set()
            release.wait(10)

    holder = context.Process(target=hold)
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(TitoError) as error, course_lock(state, timeout=0.3):
            pass
        assert f"pid {holder.pid}" in error.value.message and error.value.exit_code == 1
    finally:
        release.set()
        holder.join(10)
