"""`tito module check`: each rule fires on a bad fixture module and stays quiet on a good one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, load, make_course
from tito.cli.main import app
from tito.course.check import RULES, check_course, check_module, check_source

GRADED = '{"grade": true, "grade_id": "test-double", "locked": true, "points": 5}'
ANSWER = '{"grade": false, "grade_id": "reflect-%s", "locked": false, "solution": true}'

GOOD = f"""\
# %% [markdown]
# # Module 01: Alpha
#
# We double numbers.

# %%
#| default_exp core.alpha

# %% [markdown]
# ## double
#
# `double(x)` returns `2 * x`; `double(3) == 6`.

# %% nbgrader={{"grade": false, "grade_id": "double", "locked": false, "solution": true}}
#| export
def double(x):
    \"\"\"Return twice x, e.g. double(3) == 6.\"\"\"
    ### BEGIN SOLUTION
    # a comment is not a solution line
    return 2 * x
    ### END SOLUTION

# %% [markdown]
# What this checks: a positive and a negative number.

# %% nbgrader={GRADED}
def test_double():
    assert double(2) == 4, f"double(2) should be 4, got {{double(2)}}"
    ### BEGIN HIDDEN TESTS
    assert double(-3) == -6, "double(-3) should be -6"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_double()

# %% [markdown]
# ## Reflect

# %% [markdown]
# **Q1 (memory).** How many bytes does a float32 take?

# %% [markdown] nbgrader={ANSWER % "memory"}
# ### BEGIN SOLUTION
# Four.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** How many multiplications does double(x) do?

# %% [markdown] nbgrader={ANSWER % "compute"}
# ### BEGIN SOLUTION
# One.
# ### END SOLUTION

# %% [markdown]
# **Q3 (scaling).** What changes for a vector of a million numbers?

# %% [markdown] nbgrader={ANSWER % "scaling"}
# ### BEGIN SOLUTION
# A million multiplications, four megabytes.
# ### END SOLUTION
"""

TEST_CELL = f"""# %% [markdown]
# What this checks: a positive and a negative number.

# %% nbgrader={GRADED}
"""
Q3 = """# %% [markdown]
# **Q3 (scaling).** What changes for a vector of a million numbers?
"""
A3 = f"""# %% [markdown] nbgrader={ANSWER % "scaling"}
# ### BEGIN SOLUTION
# A million multiplications, four megabytes.
# ### END SOLUTION
"""

SPEC_CELL = "# %% [markdown]\n# ## double\n#\n# `double(x)` returns `2 * x`; `double(3) == 6`.\n"
BEGIN, END = "    ### BEGIN SOLUTION\n", "    ### END SOLUTION\n"
REFLECT = "\n# %% [markdown]\n# ## Reflect"
AGAIN = GRADED.replace("test-double", "test-again")
HIDDEN_ASSERT = '    assert double(-3) == -6, "double(-3) should be -6"\n'
HIDDEN = "    ### BEGIN HIDDEN TESTS\n" + HIDDEN_ASSERT + "    ### END HIDDEN TESTS\n"
CHECKS = "# What this checks"
FIRST = (
    "# %% nbgrader=" + GRADED.replace("test-double", "test-first") + "\n"
    "def test_first():\n    assert double(1) == 2, 'one'\n\n\n"
)

# (edit as (old, new) replacements of GOOD, the rule that must fire, a word of its message)
BAD = {
    "no docstring": (
        [('    """Return twice x, e.g. double(3) == 6."""\n', "")],
        "spec-missing",
        "double()",
    ),
    "docstring inside the block": (
        [
            ('    """Return twice x, e.g. double(3) == 6."""\n', ""),
            ("    ### BEGIN SOLUTION\n", '    ### BEGIN SOLUTION\n    """Return twice x."""\n'),
        ],
        "spec-missing",
        "docstring",
    ),
    "short docstring": (
        [('"""Return twice x, e.g. double(3) == 6."""', '"""Doubles."""')],
        "spec-short",
        "too short",
    ),
    "no markdown before the stub": (
        [(SPEC_CELL, "")],
        "spec-markdown",
        "markdown",
    ),
    "solution block at top level": (
        [(END, END + "\n### BEGIN SOLUTION\nY = 2\n### END SOLUTION\n")],
        "stub-toplevel",
        "outside any function",
    ),
    "test after another test": (
        [
            (
                REFLECT,
                "\n# %% nbgrader="
                + AGAIN
                + "\ndef test_again():\n    assert double(1) == 2, 'one'\n"
                + REFLECT,
            )
        ],
        "test-far",
        "test-again",
    ),
    "test of nothing defined just before": (
        [(TEST_CELL, FIRST + "# %%\ndef triple(x):\n    return 3 * x\n\n\n" + TEST_CELL)],
        "test-far",
        "triple",
    ),
    "test in an ungraded cell": (
        [(f"# %% nbgrader={GRADED}\n", "# %%\n"), (HIDDEN, "")],
        "test-cell",
        "test_double()",
    ),
    "assert without a message": (
        [(HIDDEN_ASSERT, "    assert double(-3) == -6\n")],
        "assert-message",
        "test_double()",
    ),
    "no Reflect heading": (
        [("# ## Reflect\n", "# ## Questions\n")],
        "reflect-missing",
        "## Reflect",
    ),
    "two questions": ([(Q3 + "\n" + A3, "")], "reflect-questions", "2 question"),
    "question without an answer": ([(A3, "")], "reflect-answers", "this question"),
    "no answer cells": (
        [(" nbgrader=" + ANSWER % n, "") for n in ("memory", "compute", "scaling")]
        + [("# ### BEGIN SOLUTION\n", ""), ("# ### END SOLUTION\n", "")],
        "reflect-answers",
        "no answer cells",
    ),
    "unclosed solution block": (
        [("    ### END SOLUTION\n", "")],
        "markers",
        "never closed",
    ),
    "end without begin": (
        [("    ### BEGIN SOLUTION\n", "")],
        "markers",
        "closes no block",
    ),
    "nested blocks": (
        [("    return 2 * x\n", "    ### BEGIN SOLUTION\n    return 2 * x\n")],
        "markers",
        "cannot nest",
    ),
    "hidden tests in an unlocked cell": (
        [('"locked": true, "points": 5', '"locked": false, "points": 5')],
        "markers",
        "hidden tests",
    ),
    "hidden tests in markdown": (
        [(CHECKS, "# ### BEGIN HIDDEN TESTS\n# ### END HIDDEN TESTS\n" + CHECKS)],
        "markers",
        "hidden tests",
    ),
    "solution markers in plain markdown": (
        [(CHECKS, "# ### BEGIN SOLUTION\n# x\n# ### END SOLUTION\n" + CHECKS)],
        "markers",
        '"solution": true',
    ),
    "answer cell without markers": (
        [("# ### BEGIN SOLUTION\n# Four.\n# ### END SOLUTION\n", "# Four.\n")],
        "markers",
        "cannot blank",
    ),
    "marker written as a comment": (
        [(BEGIN, "    # ### BEGIN SOLUTION\n"), (END, "    # ### END SOLUTION\n")],
        "markers",
        "looks like a marker",
    ),
    "solution block in a locked test cell": (
        [("    ### BEGIN HIDDEN TESTS\n", BEGIN), ("    ### END HIDDEN TESTS\n", END)],
        "markers",
        "locked",
    ),
    "code that does not parse": (
        [("    test_double()\n", "    test_double(\n")],
        "syntax",
        "does not parse",
    ),
}


def edited(edits: list[tuple[str, str]]) -> str:
    text = GOOD
    for old, new in edits:
        assert old in text, f"the fixture edit does not apply: {old!r}"
        text = text.replace(old, new)
    return text


def test_good_module_is_clean_and_counted():
    stats, findings = check_source(GOOD, "alpha_dev.py")
    assert findings == [], "\n".join(map(str, findings))
    assert stats.solution_lines == 1, "only `return 2 * x`: comments and markers do not count"
    assert (stats.graded_tests, stats.points, stats.hidden_blocks) == (1, 5, 1)
    assert stats.reflect_questions == 3, f"three questions, got {stats.reflect_questions}"
    # Markdown text without blank lines and without the model answers.
    assert stats.text_lines == 2 + 2 + 1 + 1 + 3, f"got {stats.text_lines} lines of text"


@pytest.mark.parametrize("case", list(BAD))
def test_each_rule_fires_on_a_bad_module(case):
    edits, rule, words = BAD[case]
    _, findings = check_source(edited(edits), "alpha_dev.py")
    fired = [f for f in findings if f.rule == rule]
    assert fired, f"{case}: expected a {rule} finding, got {[str(f) for f in findings]}"
    assert any(words in f.message for f in fired), f"{case}: {[f.message for f in fired]}"
    assert all(f.file == "alpha_dev.py" and f.line >= 1 for f in findings)


def test_every_rule_has_a_bad_fixture_except_exports():
    tested = {rule for _, rule, _ in BAD.values()}
    assert tested == set(RULES) - {"exports"}, "exports is tested with a course, below"


@pytest.mark.parametrize(
    ("doc", "short"),
    [
        ("Forward pass.", True),
        ("Compute the loss.", True),
        ("mse_loss(predictions, targets).", False),
        ("Return twice x, e.g. double(3) == 6.", False),
    ],
)
def test_short_docstrings(doc, short):
    text = GOOD.replace("Return twice x, e.g. double(3) == 6.", doc)
    _, findings = check_source(text, "alpha_dev.py")
    assert [f.rule for f in findings] == (["spec-short"] if short else []), doc


def test_findings_point_at_the_line():
    text = edited(BAD["assert without a message"][0])
    _, findings = check_source(text, "alpha_dev.py")
    line = text.splitlines().index("    assert double(-3) == -6") + 1
    assert [(f.rule, f.line) for f in findings] == [("assert-message", line)]


def test_bad_cell_metadata_is_a_finding_not_a_crash():
    _, findings = check_source('# %% nbgrader={"grade": tru}\nx = 1\n', "alpha_dev.py")
    assert [(f.rule, f.line) for f in findings] == [("syntax", 1)]


def test_test_far_accepts_assignments_and_attribute_roots():
    text = GOOD.replace(
        "#| export\ndef double(x):", "#| export\nFACTOR = 2\nTool.size = 3\n\n\ndef double(x):"
    ).replace("assert double(2) == 4,", "assert FACTOR * Tool.size == 6,")
    text = text.replace("assert double(-3) == -6,", "assert FACTOR == 2,")
    _, findings = check_source(text, "alpha_dev.py")
    assert [f.rule for f in findings] == [], [str(f) for f in findings]


# ── with a course: exports, check_module, the CLI ──


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", GOOD, exports=["double"])
    return root


def test_check_module_is_clean(course):
    spec = load(course).module("01")
    result = check_module(load(course), spec)
    assert result.clean, [str(f) for f in result.findings]
    assert result.file == "modules/01_alpha/alpha_dev.py"


def test_exports_not_defined_are_reported_at_module_yaml(course):
    add_module(course, "01_alpha", GOOD, exports=["double", "halve"])
    result = check_module(load(course), load(course).module("01"))
    assert [(f.file, f.rule) for f in result.findings] == [
        ("modules/01_alpha/module.yaml", "exports")
    ]
    finding = result.findings[0]
    yaml_lines = (course / "modules/01_alpha/module.yaml").read_text().splitlines()
    assert yaml_lines[finding.line - 1].startswith("exports"), "points at the exports field"
    assert "halve" in finding.message


def test_check_neither_imports_numpy_nor_runs_the_module(course):
    add_module(course, "02_beta", "# %%\nopen('ran', 'w').write('x')\n")
    code = textwrap.dedent(
        f"""
        import sys
        from tito.course.catalog import load_course
        from tito.course.check import check_course
        check_course(load_course(__import__("pathlib").Path({str(course)!r})))
        print("numpy" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=course, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False", "check must not import numpy"
    assert not (course / "ran").exists(), "check must not run the module file"


def invoke(course, *args):
    return CliRunner().invoke(app, ["--course", str(course), "module", "check", *args])


def test_cli_clean_module_exits_0_with_stats(course):
    result = invoke(course, "01")
    assert result.exit_code == 0, result.output
    assert "01_alpha: clean" in result.output and "1 solution lines" in result.output


def test_cli_findings_exit_1_with_file_line_rule(course):
    add_module(course, "02_beta", edited(BAD["assert without a message"][0]))
    result = invoke(course, "02_beta")
    assert result.exit_code == 1, result.output
    assert "modules/02_beta/beta_dev.py:" in result.output and "assert-message" in result.output


def test_cli_all_prints_table_with_total_and_rules(course):
    add_module(course, "02_beta", edited(BAD["no Reflect heading"][0]))
    result = invoke(course, "--all", "--summary")
    assert result.exit_code == 1, result.output
    for word in ("01_alpha", "02_beta", "total", "reflect-missing", "900"):
        assert word in result.output, f"{word!r} missing from:\n{result.output}"
    assert "beta_dev.py:" not in result.output, "--summary leaves out the findings"


def test_cli_json(course):
    add_module(course, "02_beta", edited(BAD["two questions"][0]))
    result = invoke(course, "--all", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert [m["module"] for m in data["modules"]] == ["01_alpha", "02_beta"]
    assert data["findings_per_rule"] == {"reflect-questions": 1}
    assert data["total"]["solution_lines"] == 2 and data["modules"][0]["clean"] is True


@pytest.mark.parametrize(
    ("args", "words"), [(["99"], "no module '99'"), ([], "Name one module"), (["01", "--all"], "")]
)
def test_cli_bad_usage_exits_2(course, args, words):
    result = invoke(course, *args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_check_course_defaults_to_every_module(course):
    add_module(course, "02_beta", GOOD.replace("core.alpha", "core.beta"))
    result = check_course(load(course))
    assert [m.module for m in result.modules] == ["01_alpha", "02_beta"]
    assert result.clean and result.total.solution_lines == 2
