"""The command line through Typer's CliRunner, and `tito` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.cli.status import compact_module_ids

MODULE_A = """
# %%
#| default_exp core.alpha
#| export
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "t", "locked": true, "points": 5}
def test_double():
    assert double(2) == 4
"""

MODULE_B = """
# %%
#| default_exp core.beta
#| export
from tinytorch.core.alpha import double


def quadruple(x):
    return double(double(x))

# %%
def test_quadruple():
    assert quadruple(1) == 4
"""


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", MODULE_A, exports=["double"])
    add_module(root, "02_beta", MODULE_B, prerequisites=["01_alpha"], exports=["quadruple"])
    folder = root / "milestones" / "demo"
    folder.mkdir()
    (folder / "demo.py").write_text(
        textwrap.dedent(
            """
            import json, sys
            from tinytorch.core.beta import quadruple
            print("training...")
            print(json.dumps({"passed": quadruple(1) == 4, "accuracy": 1.0, "args": sys.argv[1:]}))
            """
        )
    )
    (folder / "milestone.yaml").write_text(
        "id: demo\ntitle: Demo\nyear: 1957\nrequires: [01_alpha, 02_beta]\nscript: demo.py\n"
        "criterion: quadruple works\n"
    )
    return root


def tito(root, *args):
    result = CliRunner().invoke(app, ["--course", str(root), *args])
    return result


def test_version_and_help():
    runner = CliRunner()
    assert runner.invoke(app, ["--version"]).output.startswith("tito ")
    for command in (
        [],
        ["module"],
        ["module", "complete"],
        ["module", "list"],
        ["module", "start"],
        ["module", "test"],
        ["module", "reset"],
        ["status"],
        ["system", "doctor"],
        ["milestone", "run"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_list_shows_states(course):
    result = tito(course, "module", "list", "--json")
    assert result.exit_code == 0
    states = {row["id"]: row["state"] for row in json.loads(result.output)}
    assert states == {"01_alpha": "available", "02_beta": "locked"}


def test_start_refuses_with_missing_prerequisite_and_force_overrides(course):
    result = tito(course, "module", "start", "02_beta")
    assert result.exit_code == 1
    assert "02_beta needs 01_alpha completed first" in result.output
    result = tito(course, "module", "start", "02_beta", "--force")
    assert result.exit_code == 0 and "--force" in result.output
    assert "modules/02_beta/beta_dev.py" in result.output


def test_test_command_exit_codes_and_json(course):
    result = tito(course, "module", "test", "01", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["status"] == "passed" and report["tests"][0]["max_points"] == 5
    source = course / "modules" / "01_alpha" / "alpha_dev.py"
    source.write_text(source.read_text().replace("return 2 * x", "return 3 * x"))
    result = tito(course, "module", "test", "01_alpha")
    assert result.exit_code == 1 and "failed" in result.output


@pytest.mark.parametrize("command", [["test"], ["complete", "--force"]])
def test_a_module_run_before_its_prerequisite_names_the_one_to_complete(course, command):
    """A fresh copy: 02_beta imports tinytorch.core.alpha, which only 01_alpha's export makes."""
    verb, *options = command
    result = tito(course, "module", verb, "02_beta", *options)
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "run `tito module complete 01_alpha` first" in error[0]
    assert "Traceback" not in result.output and "File " not in result.output
    assert tito(course, "module", "complete", "01_alpha").exit_code == 0
    assert tito(course, "module", verb, "02_beta", *options).exit_code == 0


def test_an_import_error_of_the_student_own_is_reported_as_it_is(course):
    """Prerequisites in the package: a bad import is the module's own problem, not theirs."""
    assert tito(course, "module", "complete", "01_alpha").exit_code == 0
    source = course / "modules" / "02_beta" / "beta_dev.py"
    source.write_text(source.read_text().replace("import double", "import triple"))
    result = tito(course, "module", "test", "02_beta")
    assert result.exit_code == 1 and "cannot import name 'triple'" in result.output
    assert "tito module complete" not in result.output


def test_complete_exports_records_and_announces(course):
    result = tito(course, "module", "complete", "01_alpha")
    assert result.exit_code == 0, result.output
    assert (course / "tinytorch" / "core" / "alpha.py").is_file()
    assert "Completed 01_alpha" in result.output
    result = tito(course, "module", "complete", "02_beta")
    assert result.exit_code == 0, result.output
    assert "Milestone unlocked: demo" in result.output
    status = json.loads(tito(course, "status", "--json").output)
    assert status["completed"] == 2 and status["next"] is None
    assert [m["state"] for m in status["milestones"]] == ["available"]
    progress = json.loads((course / ".tito" / "progress.json").read_text())
    assert progress["modules"]["01_alpha"]["tests"]["passed"] == 1
    assert len(progress["modules"]["01_alpha"]["source_sha256"]) == 64


def test_complete_with_failing_tests_exports_nothing(course):
    source = course / "modules" / "01_alpha" / "alpha_dev.py"
    source.write_text(source.read_text().replace("return 2 * x", "return 3 * x"))
    result = tito(course, "module", "complete", "01_alpha")
    assert result.exit_code == 1 and "not completed" in result.output
    assert not (course / "tinytorch" / "core" / "alpha.py").exists()
    assert json.loads(tito(course, "status", "--json").output)["modules"][0]["state"] == "started"


def test_complete_all_then_reset(course):
    result = tito(course, "module", "complete", "--all")
    assert result.exit_code == 0, result.output
    result = tito(course, "module", "reset", "01_alpha")
    assert result.exit_code == 0
    assert not (course / "tinytorch" / "core" / "alpha.py").exists()
    assert (course / "tinytorch" / "core" / "beta.py").exists()
    assert (course / "modules" / "01_alpha" / "alpha_dev.py").exists(), "source untouched"
    states = {
        m["id"]: m["state"] for m in json.loads(tito(course, "status", "--json").output)["modules"]
    }
    assert states["01_alpha"] == "available"


def test_complete_usage_errors(course):
    assert tito(course, "module", "complete").exit_code == 2
    result = tito(course, "module", "complete", "99_nothing")
    assert result.exit_code == 2 and "There is no module '99_nothing'" in result.output


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("number: 2\n", "'name'"),
        ("name: beta\nnumber: two\n", "'number'"),
        ("name: beta\nnumber: 2\nprerequisites: [07_nothing]\n", "'prerequisites'"),
        ("name: beta\nnumber: 2\nprerequisites: [02_beta]\n", "'prerequisites'"),
    ],
    ids=["missing-name", "wrong-type", "unknown-prerequisite", "cycle"],
)
def test_bad_module_yaml_exits_2_naming_file_and_field(course, yaml_text, field):
    (course / "modules" / "02_beta" / "module.yaml").write_text(yaml_text)
    result = tito(course, "module", "list")
    assert result.exit_code == 2
    assert "02_beta/module.yaml" in result.output and field in result.output
    assert "Traceback" not in result.output


def test_corrupt_progress_warns_and_continues(course):
    (course / ".tito").mkdir()
    (course / ".tito" / "progress.json").write_text("{oops")
    result = tito(course, "status")
    assert result.exit_code == 0 and "moved to progress.json.corrupt-" in result.output


def test_milestone_locked_then_run_with_extra_args(course):
    result = tito(course, "milestone", "run", "demo")
    assert result.exit_code == 1 and "complete 01_alpha, 02_beta first" in result.output
    assert tito(course, "module", "complete", "--all").exit_code == 0
    result = tito(course, "milestone", "run", "demo", "--quick", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "Milestone demo passed" in result.output
    best = json.loads(tito(course, "milestone", "list", "--json").output)[0]["best"]
    assert best["result"]["args"] == ["--quick", "--seed", "3"]


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        (["01_tensor", "02_activations", "03_layers"], "01-03"),
        (["14_kvcache"], "14_kvcache"),
        (
            ["13_transformers", "10_tokenization", "11_embeddings", "06_optimizers"],
            "06_optimizers, 10-11, 13_transformers",
        ),
        (["extra", "01_tensor"], "extra, 01_tensor"),
        ([], ""),
    ],
)
def test_missing_modules_are_shown_as_ranges(ids, shown):
    assert compact_module_ids(ids) == shown


def test_doctor_on_a_healthy_fixture_course(course):
    assert tito(course, "module", "complete", "--all").exit_code == 0
    result = tito(course, "system", "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["course structure"]["ok"] and checks["package drift"]["ok"], result.output
    (course / "tinytorch" / "core" / "alpha.py").write_text("# edited by hand\n")
    result = tito(course, "system", "doctor")
    assert result.exit_code == 1 and "FAIL" in result.output


def run_tito(root, *args, **kwargs):
    env = {k: v for k, v in os.environ.items() if k != "TITO_COURSE"}
    return subprocess.run(
        [sys.executable, "-m", "tito", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kwargs,
    )


def test_real_subprocess_finds_course_from_cwd_and_stays_light(course):
    done = run_tito(course / "modules", "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 2
    probe = (
        "import sys\n"
        "from tito.cli.main import app\n"
        "for args in (['--help'], ['status'], ['module', 'list']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('NUMPY' if 'numpy' in sys.modules else 'LIGHT', 'tinytorch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=course, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "LIGHT False", done.stdout + done.stderr


def test_two_tito_processes_at_once_lose_nothing(course):
    add_module(course, "03_gamma", MODULE_A.replace("core.alpha", "core.gamma"), exports=["double"])
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tito", "module", "complete", module_id, "--force"],
            cwd=course,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for module_id in ("01_alpha", "03_gamma")
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
    progress = json.loads((course / ".tito" / "progress.json").read_text())
    assert {"01_alpha", "03_gamma"} <= set(progress["modules"])
    assert (course / "tinytorch" / "core" / "alpha.py").exists()
    assert (course / "tinytorch" / "core" / "gamma.py").exists()


def test_start_with_notebook_writes_the_ipynb(course):
    result = tito(course, "module", "start", "01_alpha", "--notebook")
    assert result.exit_code == 0, result.output
    assert (course / "modules" / "01_alpha" / "alpha_dev.ipynb").is_file()
    assert "alpha_dev.ipynb" in result.output


def test_module_without_export_cells_completes_with_a_warning(course):
    add_module(course, "03_notes", "def test_reading():\n    assert 'notes'\n")
    result = tito(course, "module", "complete", "03_notes", "--force")
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "nothing" in result.output.lower()


def test_module_with_no_tests_is_not_completed(course):
    add_module(course, "03_empty", "# %%\n#| default_exp core.empty\n#| export\nX = 1\n")
    result = tito(course, "module", "complete", "03_empty", "--force")
    assert result.exit_code == 1 and "No tests found" in result.output
    assert not (course / "tinytorch" / "core" / "empty.py").exists()


TWO_TARGETS = """
# %%
#| default_exp core.one
#| export
def one():
    return 1

# %%
#| export core.two
class Two:
    pass

# %%
def test_one():
    assert one() == 1
"""


def test_complete_checks_names_in_a_target_the_export_left_unchanged(course):
    """Re-completing after an edit that touches only core.one must still find Two in core.two."""
    path = add_module(course, "03_split", TWO_TARGETS, exports=["one", "Two"])
    assert tito(course, "module", "complete", "03_split", "--force").exit_code == 0
    path.write_text(path.read_text().replace("return 1", "return 2 - 1"))
    result = tito(course, "module", "complete", "03_split", "--force")
    assert result.exit_code == 0, result.output
    assert "return 2 - 1" in (course / "tinytorch" / "core" / "one.py").read_text()


def test_complete_names_a_listed_name_missing_at_import_time(course):
    """The check imports every target: a name deleted from core.two at run time is missing."""
    text = TWO_TARGETS.replace("    pass", "    pass\n\n\ndel Two")
    add_module(course, "03_split", text, exports=["one", "Two"])
    result = tito(course, "module", "complete", "03_split", "--force")
    assert result.exit_code == 1, result.output
    assert "does not provide Two" in " ".join(result.output.split())


def test_help_shows_no_type_after_flags():
    result = CliRunner().invoke(app, ["module", "complete", "--help"])
    assert result.exit_code == 0 and "--all" in result.output
    assert "<bool>" not in result.output


def test_complete_and_status_agree_on_the_next_step(course):
    completed = tito(course, "module", "complete", "01_alpha")
    assert "Next step: `tito module start 02_beta`" in completed.output
    assert "Next step: `tito module start 02_beta`" in tito(course, "status").output
    tito(course, "module", "start", "02_beta")
    assert "Next step: `tito module complete 02_beta`" in tito(course, "status").output
    status = json.loads(tito(course, "status", "--json").output)
    assert status["next_command"] == "tito module complete 02_beta"


def test_status_bar_and_module_table_are_on_separate_lines(course):
    tito(course, "module", "complete", "01_alpha")
    lines = tito(course, "status").output.splitlines()
    bar = next(i for i, line in enumerate(lines) if line.rstrip().endswith("1/2"))
    assert lines[bar + 1].lstrip().startswith(("┏", "+")), lines[bar : bar + 2]


@pytest.mark.parametrize(
    ("title", "year", "heading"),
    [
        ("TinyGPT: a transformer language model (GPT, 2018)", 2018, None),
        ("The perceptron", 1957, "The perceptron (1957)"),
        ("TinyTalks", None, "TinyTalks"),
    ],
)
def test_milestone_heading_shows_the_year_once(title, year, heading):
    from tito.cli.milestone import milestone_heading

    assert milestone_heading(title, year) == (heading or title)
