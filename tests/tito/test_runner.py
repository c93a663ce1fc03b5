"""The sandboxed test runner: every outcome, and a message that points at the student's line."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.coursekit import add_module, load, make_course
from tito.course.errors import TitoError
from tito.course.runner import run_module_tests


@pytest.fixture
def root(tmp_path):
    course = make_course(tmp_path / "course")
    (course / "tinytorch" / "core").mkdir()
    (course / "tinytorch" / "core" / "__init__.py").write_text("")
    thing = "WHERE = 'course package'\n\n\ndef check(x):\n    if x < 0:\n"
    (course / "tinytorch" / "core" / "thing.py").write_text(
        thing + "        raise ValueError('no')\n"
    )
    return course


def run(root, source, *, timeout=None, **fields):
    add_module(root, "01_x", source, **fields)
    course = load(root)
    return run_module_tests(course, course.modules["01_x"], timeout=timeout)


def line_of(root, text):
    lines = (root / "modules" / "01_x" / "x_dev.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_passing_captures_output_and_serialises(root):
    report = run(
        root,
        """
        from dataclasses import dataclass

        @dataclass
        class Point:  # needs the module registered in sys.modules while it loads
            x: int

        def test_one():
            print("hello from one")

        def test_two():
            assert Point(2).x == 2

        if __name__ == "__main__":
            raise SystemExit("the main block must not run")
        """,
    )
    assert report.status == "passed" and report.passed
    assert report.message == "2 of 2 tests passed"
    one, two = report.tests
    assert one.output == "hello from one\n" and two.output == ""
    assert all(t.seconds >= 0 and t.line is None for t in report.tests)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "passed" and data["passed"] is True
    assert data["tests"][0]["name"] == "test_one" and data["load_problem"] is None


def test_failure_and_error_point_at_the_students_line(root):
    report = run(
        root,
        """
        from tinytorch.core.thing import check

        def helper(x):
            return check(x)

        def test_fails():
            value = 3
            assert value == 4

        def test_errors():
            helper(-1)

        def test_fails_with_message():
            assert 1 == 2, "one is not two"
        """,
    )
    fails, errors, with_message = report.tests
    assert report.status == "failed" and report.message == "0 of 3 tests passed"
    assert fails.outcome == "failed" and fails.line == line_of(root, "assert value == 4")
    assert fails.message == "assert value == 4 (value = 3)"
    assert fails.file.endswith("x_dev.py")
    assert errors.outcome == "error" and errors.message == "ValueError: no"
    assert errors.line == line_of(root, "return check(x)"), "the deepest frame in their file"
    assert "x_dev.py" in errors.traceback and "thing.py" in errors.traceback
    assert "_harness" not in errors.traceback
    assert with_message.message == "one is not two"


def test_syntax_error_is_a_load_problem_with_line(root):
    report = run(root, "def test_a():\n    pass\n\nx = (1,\ny = 2 +\n")
    problem = report.load_problem
    assert report.status == "load_error" and problem.kind == "syntax" and not report.tests
    assert problem.line in (4, 5) and problem.file.endswith("x_dev.py")
    assert report.message.startswith(f"SyntaxError at x_dev.py:{problem.line}: ")


def test_import_error_uses_the_courses_own_package(root, tmp_path, monkeypatch):
    decoy = tmp_path / "decoy" / "tinytorch" / "core"
    decoy.mkdir(parents=True)
    (decoy.parent / "__init__.py").write_text("")
    (decoy / "__init__.py").write_text("")
    (decoy / "thing.py").write_text("WHERE = 'decoy'\nNOT_THERE = 1\n")
    monkeypatch.setenv("PYTHONPATH", str(decoy.parent.parent))
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
    assert report.message.startswith("ImportError at x_dev.py:2: ")
    ok = run(
        root,
        """
        import tinytorch
        from tinytorch.core.thing import WHERE

        def test_where():
            assert WHERE == "course package", tinytorch.__file__
        """,
    )
    assert ok.passed, ok.tests[0].message


BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def test_the_tests_run_with_one_blas_thread_unless_the_user_chose(root, monkeypatch):
    source = """
        import os

        def test_threads():
            seen = [os.environ.get(name) for name in {names!r}]
            assert seen == {expected!r}, seen
        """
    for name in BLAS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    report = run(root, source.format(names=BLAS_VARIABLES, expected=["1", "1", "1"]))
    assert report.passed, report.tests[0].message
    from tito.course.processes import child_env

    assert not set(BLAS_VARIABLES) & set(child_env(blas_threads=None))  # what milestones get
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's count stands, and nothing is added
    report = run(root, source.format(names=BLAS_VARIABLES, expected=[None, "3", None]))
    assert report.passed, report.tests[0].message


def test_exception_at_load_time_is_a_load_problem(root):
    report = run(root, "x = 1\n\ny = {}['key']\n\ndef test_a():\n    pass\n")
    assert report.status == "load_error" and report.load_problem.kind == "exception"
    assert report.load_problem.message == "KeyError: 'key'" and report.load_problem.line == 3


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
        test_timeout=1,
    )
    assert time.perf_counter() - started < 10 and report.seconds >= 1
    assert report.status == "timeout" and not report.passed
    assert "Timed out after 1 s in test_hangs" in report.message
    assert [t.outcome for t in report.tests] == ["passed", "timeout", "not_run"]
    assert report.tests[1].line == line_of(root, "def test_hangs")


def test_timeout_argument_and_hang_while_loading(root):
    report = run(root, "import time\n\ntime.sleep(60)\n", timeout=0.5)
    assert report.status == "timeout" and report.seconds < 10
    assert report.message.startswith("Timed out after 0.5 s while loading the file")


def test_background_process_holding_the_output_does_not_stall_the_run(root):
    pid_file = root / "child.pid"
    started = time.perf_counter()
    report = run(
        root,
        f"""
        import subprocess, sys

        def test_spawns():
            child = subprocess.Popen(
                [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
            )
            open({str(pid_file)!r}, "w").write(str(child.pid))
        """,
    )
    try:
        assert report.passed and time.perf_counter() - started < 15
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_top_level_calls(root):
    passing = run(root, "def test_a():\n    assert True\n\ntest_a()\n")
    assert passing.passed
    failing = run(root, "def test_a():\n    assert False, 'boom'\n\ntest_a()\n")
    assert failing.status == "load_error" and failing.load_problem.line == 2
    assert failing.load_problem.kind == "exception"
    assert failing.load_problem.message == "AssertionError: boom"
    assert "line 4, in <module>" in failing.load_problem.traceback, "the top-level call is shown"


def test_aggregator_runs_last_and_imported_helpers_are_not_collected(root):
    report = run(
        root,
        """
        from tinytorch.core.thing import check as test_imported_name
        from os.path import join as test_join

        def test_module():
            print("aggregate")
            test_b()

        def test_b():
            print("b")

        async def test_async():
            assert False, "awaited"
        """,
    )
    assert [t.name for t in report.tests] == ["test_b", "test_async", "test_module"]
    assert report.tests[2].output == "aggregate\nb\n"
    assert report.tests[1].outcome == "failed" and report.tests[1].message == "awaited"


def test_no_tests_is_a_failure(root):
    report = run(root, "from tinytorch.core.thing import check as test_check\n\nx = 1\n")
    assert report.status == "no_tests" and not report.passed
    assert report.message.startswith("No tests found in x_dev.py")


def test_not_implemented_names_the_function(root):
    report = run(
        root,
        """
        class Tensor:
            def matmul(self, other):
                raise NotImplementedError()

        def test_matmul():
            Tensor().matmul(Tensor())
        """,
    )
    test = report.tests[0]
    assert test.outcome == "error" and test.message == "not implemented yet: Tensor.matmul"
    assert test.line == line_of(root, "raise NotImplementedError")


def test_points_from_nbgrader_metadata(root):
    report = run(
        root,
        """
        import functools

        def traced(test):
            @functools.wraps(test)
            def wrapper():
                print("traced")
                return test()

            return wrapper

        # %% nbgrader={"grade": true, "grade_id": "pair", "locked": true, "points": 10}
        def test_one():
            pass

        @traced
        def test_two():
            assert False

        # %% nbgrader={"grade": true, "grade_id": "single", "locked": false, "points": 3}
        def test_three():
            pass

        # %% nbgrader={"grade": false, "grade_id": "not-graded", "points": 7}
        def test_four():
            pass

        # %%
        def test_ungraded():
            pass
        """,
    )
    points = {t.name: (t.points, t.max_points, t.grade_id, t.locked) for t in report.tests}
    assert points == {
        "test_one": (5.0, 5.0, "pair", True),
        "test_two": (0.0, 5.0, "pair", True),
        "test_three": (3.0, 3.0, "single", False),
        "test_four": (0.0, 0.0, None, False),
        "test_ungraded": (0.0, 0.0, None, False),
    }
    assert [t.name for t in report.tests][:2] == ["test_one", "test_two"]
    assert report.tests[1].output == "traced\n"
    assert report.points == 8.0 and report.max_points == 13.0
    assert report.to_dict()["points"] == 8.0


def test_bad_metadata_is_a_warning_not_a_crash(root):
    report = run(root, '# %% nbgrader={"grade": true,\ndef test_a():\n    pass\n')
    assert report.passed and report.max_points == 0
    assert report.warnings and "not valid JSON" in report.warnings[0]


def test_crash_is_reported(root):
    report = run(
        root, "import os\n\ndef test_exit():\n    os._exit(3)\n\ndef test_b():\n    pass\n"
    )
    assert report.status == "crashed" and not report.passed
    assert "exit code 3" in report.message and "test_exit" in report.message
    assert [t.outcome for t in report.tests] == ["error", "not_run"]


def test_source_override_and_missing_file(root, tmp_path):
    add_module(root, "01_x", "def test_a():\n    assert False\n")
    course = load(root)
    other = tmp_path / "submission_dev.py"
    other.write_text("def test_a():\n    pass\n")
    report = run_module_tests(course, course.modules["01_x"], source=other)
    assert report.passed
    with pytest.raises(TitoError, match="does not exist"):
        run_module_tests(course, course.modules["01_x"], source=tmp_path / "gone.py")
