"""The Gradescope autograder, run as Gradescope runs it, under a simulated /autograder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tests.tito.test_grading import BETA, SOURCE, solve
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.gradescope import results_json
from tito.course.grading import GradedTest, GradeReport
from tito.course.release import release_student

pytestmark = pytest.mark.skipif(os.name != "posix", reason="run_autograder is a bash script")
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradescope")
    root = make_course(base / "course")
    add_module(root, "01_alpha", SOURCE, test_timeout=3)
    add_module(root, "02_beta", BETA, test_timeout=3, prerequisites=["01_alpha"])
    release_student(load_course(root), base / "release")
    out = base / "autograder.zip"
    args = ["--course", str(root), "release", "gradescope", str(out)]
    result = CliRunner().invoke(app, [*args, "--module", "01", "--module", "02_beta"])
    assert result.exit_code == 0, result.output
    return out, base / "release"


def run_autograder(zip_path, tmp_path, files: dict[str, str]) -> dict:
    """Unpack as Gradescope does, put the submission in place, run, read results.json."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "TITO_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "run_autograder")], env=env, timeout=120, check=True)
    return json.loads((root / "results" / "results.json").read_text())


def solved_files(release) -> dict[str, str]:
    alpha = solve((release / "modules" / "01_alpha" / "alpha_dev.py").read_text())
    beta = (release / "modules" / "02_beta" / "beta_dev.py").read_text()
    return {"alpha_dev.py": alpha, "work/beta_dev.py": solve(beta, ["return double(double(x))"])}


def test_zip_layout_and_no_solutions(autograder):
    zip_path, _ = autograder
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder", "requirements.txt", "gradescope.json"} <= set(names)
        assert archive.getinfo("run_autograder").external_attr >> 16 & 0o111
        alpha = archive.read("course/modules/01_alpha/alpha_dev.py").decode()
    assert "### BEGIN HIDDEN TESTS" in alpha  # hidden tests travel with the autograder
    assert "return 2 * x" not in alpha  # the graded module's solution does not
    assert "packages/02_beta/tinytorch/core/alpha.py" in names  # 01 for grading 02
    assert "packages/01_alpha/tinytorch/core/alpha.py" not in names
    assert any(n.startswith("course/releases/") for n in names)


def test_reference_solution_gets_full_marks(autograder, tmp_path):
    zip_path, release = autograder
    results = run_autograder(zip_path, tmp_path, solved_files(release))
    assert results["score"] == 15.0 and isinstance(results["execution_time"], int)
    assert {"score", "execution_time", "output", "tests"} <= set(results)
    for test in results["tests"]:
        assert TEST_KEYS <= set(test) and test["status"] == "passed", test
    hidden = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert [t["name"] for t in hidden] == ["01_alpha · test_double (with hidden checks)"]
    assert hidden[0]["max_score"] == 6.0
    assert sum(t["max_score"] for t in results["tests"]) == 15.0


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda t: t.replace("def double(x):", "def double(x:"), "SyntaxError"),
        (lambda t: t.replace("#| export\n", "#| export\nraise SystemExit(3)\n", 1), "SystemExit"),
        (lambda t: "import time\ntime.sleep(60)\n" + t, "Timed out"),
    ],
    ids=["does-not-parse", "crashes", "hangs"],
)
def test_broken_submission_gets_zero_and_a_results_file(autograder, tmp_path, edit, why):
    zip_path, release = autograder
    files = solved_files(release)
    files["alpha_dev.py"] = edit(files["alpha_dev.py"])
    files.pop("work/beta_dev.py")
    results = run_autograder(zip_path, tmp_path, files)
    assert results["score"] == 0.0
    assert why in results["output"] and "No beta_dev.py" in results["output"]
    assert "Files in your submission: alpha_dev.py" in results["output"]
    assert all(t["score"] == 0 for t in results["tests"])


def test_hard_coded_submission_sees_visible_pass_and_hidden_zero():
    row = GradedTest(
        "test_double",
        "test-double",
        0.0,
        6.0,
        "failed",
        "a hidden test failed",
        hidden=True,
        failed_in_hidden=True,
    )
    visible, hidden = results_json([GradeReport("s", "01_alpha", [row])])["tests"]
    assert (visible["status"], visible["max_score"], visible["visibility"]) == (
        "passed",
        0.0,
        "visible",
    )
    assert (hidden["score"], hidden["visibility"]) == (0.0, "after_published")


def test_autograder_error_still_writes_results(tmp_path):
    """No gradescope.json (a broken zip): results.json says so, score 0."""
    root = tmp_path / "autograder"
    (root / "source" / "course").mkdir(parents=True)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "TITO_PYTHON": sys.executable}
    script = tmp_path / "run_autograder"
    from tito.course.gradescope import RUN_AUTOGRADER

    script.write_text(RUN_AUTOGRADER)
    subprocess.run(["bash", str(script)], env=env, timeout=60, check=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "could not" in results["output"]


def test_cli_refuses_bad_input(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", SOURCE)
    runner = CliRunner()
    base = ["--course", str(root), "release", "gradescope"]
    wrong = runner.invoke(app, [*base, str(tmp_path / "a.tar"), "--module", "01"])
    assert wrong.exit_code == 2 and ".zip" in wrong.output
    unknown = runner.invoke(app, [*base, str(tmp_path / "a.zip"), "--module", "99"])
    assert unknown.exit_code == 2 and "no module '99'" in unknown.output
