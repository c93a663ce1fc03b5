"""benchmarks/gpt.py's child processes run and report what the tables print."""

import pytest

from benchmarks.gpt import ALONE, time_alone


@pytest.mark.parametrize("framework", ALONE)
def test_a_framework_timed_alone_reports_a_step_time(framework):
    if framework == "torch":
        pytest.importorskip("torch")
    milliseconds = time_alone(framework, "tinygpt-b8", threads=1, rounds=1)
    assert isinstance(milliseconds, float) and milliseconds > 0
