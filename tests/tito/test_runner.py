"""The sandboxed test runner: every outcome, and a message that points at the student's line."""

from __future__ import annotations

import json
import time

import pytest

from tests.coursekit import add_module, load, make_course
from tito.course.runner import run_module_tests


@pytest.fixture
def root(tmp_path):
    course = make_course(tmp_path / "course")
    (course / "tinytorch" / "core").mkdir()
    (course / "tinytorch" / "core" / "__init__.py").write_text("")
    (course / "tinytorch" / "core" / "thing.py").write_text("WHERE = 'course package'\n")
    return course


def run(root, source, **fields):
    add_module(root, "01_x", source, **fields)
    course = load(root)
    return run_module_tests(course, course.modules["01_x"])


def line_of(root, text):
    lines = (root / "modules" / "01_x" / "x_dev.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_passing_and_points(root):
    report = run(
        root,
        """
        # %% nbgrader={"grade": true, "grade_id": "both", "locked": true, "points": 10}
        def test_one():
            print("hello from one")

        def test_two():
            assert 1 + 1 == 2

        # %%
        def test_ungraded():
            pass
        """,
    )
    assert report.status == "passed" and report.message == "3 of 3 tests passed"
    points = {t.name: (t.points, t.max_points, t.grade_id) for t in report.tests}
    assert points == {
        "test_one": (5.0, 5.0, "both"),
        "test_two": (5.0, 5.0, "both"),
        "test_ungraded": (0.0, 0.0, None),
    }
    assert report.tests[0].output == "hello from one\n" and report.tests[0].locked
    json.dumps(report.to_dict())


def test_failure_and_error_point_at_the_students_line(root):
    report = run(
        root,
        """
        def helper(x):
            return x["missing"]

        def test_fails():
            value = 3
            assert value == 4

        def test_errors():
            helper({})
        """,
    )
    fails, errors = report.tests
    assert report.status == "failed" and report.message == "0 of 2 tests passed"
    assert fails.outcome == "failed" and fails.line == line_of(root, "assert value == 4")
    assert fails.message == "assertion failed: assert value == 4"
    assert errors.outcome == "error" and errors.message == "KeyError: 'missing'"
    assert errors.line == line_of(root, 'return x["missing"]')
    assert "x_dev.py" in errors.traceback and "_harness" not in errors.traceback


def test_syntax_error_is_a_load_problem_with_line(root):
    report = run(root, "def test_a():\n    return (\n\nx = 1\n")
    assert report.status == "load_error" and report.load_problem.kind == "syntax"
    assert report.load_problem.line is not None and "SyntaxError" in report.message


def test_import_error_uses_the_courses_own_package(root):
    report = run(
        root,
        """
        from tinytorch.core.thing import WHERE
        from tinytorch.core.thing import NOT_THERE
        """,
    )
    assert report.status == "load_error" and report.load_problem.kind == "import"
    assert "NOT_THERE" in report.load_problem.message
    assert report.load_problem.line == 2
    ok = run(
        root,
        """
        from tinytorch.core.thing import WHERE

        def test_where():
            assert WHERE == "course package"
        """,
    )
    assert ok.passed


def test_hanging_test_is_killed_and_the_rest_not_run(root):
    started = time.perf_counter()
    report = run(
        root,
        """
        import time

        def test_first():
            pass

        def test_hangs():
            time.sleep(60)

        def test_after():
            pass
        """,
        test_timeout=2,
    )
    assert time.perf_counter() - started < 20
    assert report.status == "timeout" and "test_hangs" in report.message
    assert [t.outcome for t in report.tests] == ["passed", "timeout", "not_run"]


def test_top_level_calls(root):
    passing = run(root, "def test_a():\n    assert True\n\ntest_a()\n")
    assert passing.passed
    failing = run(root, "def test_a():\n    assert False, 'boom'\n\ntest_a()\n")
    assert failing.status == "load_error" and failing.load_problem.line == 2
    assert failing.load_problem.message == "AssertionError: boom"
    assert "line 4, in <module>" in failing.load_problem.traceback, "the top-level call is shown"


def test_aggregator_runs_last_and_imported_helpers_are_not_collected(root):
    report = run(
        root,
        """
        from tinytorch.core.thing import WHERE as test_imported_name
        from os.path import join as test_join

        def test_module():
            test_b()

        def test_b():
            pass
        """,
    )
    assert [t.name for t in report.tests] == ["test_b", "test_module"]


def test_no_tests_is_a_failure(root):
    report = run(root, "x = 1\n")
    assert report.status == "no_tests" and not report.passed
    assert "No tests found" in report.message


def test_not_implemented_names_the_function(root):
    report = run(
        root,
        """
        class Tensor:
            def __init__(self):
                raise NotImplementedError()

        def test_make():
            Tensor()
        """,
    )
    assert report.tests[0].message == "not implemented yet: Tensor.__init__"


def test_crash_is_reported(root):
    report = run(root, "import os\n\ndef test_exit():\n    os._exit(3)\n")
    assert report.status == "crashed" and "exit code 3" in report.message
