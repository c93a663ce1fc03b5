"""The jupytext percent-format parser: cells, metadata, directives, lossless round trip."""

from __future__ import annotations

import textwrap

import pytest

from tito.course.cells import (
    SOLUTION_BEGIN,
    SOLUTION_END,
    Directive,
    parse_cells,
    read_cells,
    render_cells,
    split_lines,
)
from tito.course.errors import TitoError

MODULE = textwrap.dedent(
    '''\
    # ---
    # jupyter:
    #   jupytext:
    #     text_representation:
    #       format_name: percent
    # ---

    # %% [markdown]
    # # Tensors
    # A tensor is an n-dimensional array.

    # %%
    #| default_exp core.tensor
    #| export
    import numpy as np

    # %% nbgrader={"grade": false, "grade_id": "tensor", "solution": true}
    #| export
    #| hide

    class Tensor:
        def __init__(self, data):
            ### BEGIN SOLUTION
            self.data = np.asarray(data)
            ### END SOLUTION

    # %% [markdown] Notes
    """A string body is fine in markdown too."""

    # %% Tests nbgrader={"grade": true, "grade_id": "test-tensor", "locked": true, "points": 5}
    def test_tensor():
        assert Tensor([1]).data[0] == 1

    if __name__ == "__main__":
        test_tensor()
    '''
)


@pytest.fixture
def cells():
    return parse_cells(MODULE, "modules/01_tensor/tensor_dev.py")


def test_cell_kinds_and_lines(cells):
    assert [cell.kind for cell in cells] == [
        "preamble",
        "markdown",
        "code",
        "code",
        "markdown",
        "code",
    ]
    lines = MODULE.splitlines()
    for cell in cells[1:]:
        assert lines[cell.line - 1] == cell.header.rstrip("\n")
    assert cells[0].line == 1 and cells[0].header is None


def test_preamble_keeps_the_jupytext_yaml_header(cells):
    preamble = cells[0]
    assert preamble.body.startswith("# ---\n# jupyter:\n")
    assert preamble.body.endswith("# ---\n\n")
    assert preamble.directives == ()


def test_markdown_cells(cells):
    markdown = cells[1]
    assert markdown.header == "# %% [markdown]\n"
    assert markdown.code == "# # Tensors\n# A tensor is an n-dimensional array."
    assert markdown.directives == ()
    assert cells[4].title == "Notes"
    assert cells[4].code == '"""A string body is fine in markdown too."""'


def test_code_cell_directives_and_code(cells):
    first = cells[2]
    assert first.directives == (
        Directive("default_exp", "core.tensor", 13),
        Directive("export", "", 14),
    )
    assert first.code == "import numpy as np"
    assert first.has_directive("export") and not first.has_directive("hide")


def test_unknown_directives_are_kept_and_marked(cells):
    tensor = cells[3]
    assert [(d.name, d.known) for d in tensor.directives] == [("export", True), ("hide", False)]
    assert tensor.directives[1].line == 19
    # The blank line after the directives belongs to nobody: code starts at the class.
    assert tensor.code.startswith("class Tensor:")


def test_nbgrader_metadata(cells):
    assert cells[3].nbgrader == {"grade": False, "grade_id": "tensor", "solution": True}
    tests = cells[5]
    assert tests.title == "Tests"
    assert tests.nbgrader["points"] == 5 and tests.nbgrader["locked"] is True
    assert cells[2].nbgrader == {}


def test_solution_markers_stay_in_the_code(cells):
    code = cells[3].code
    assert f"        {SOLUTION_BEGIN}\n" in code
    assert code.endswith(f"        {SOLUTION_END}")


def test_main_block_is_ordinary_code(cells):
    tests = cells[5]
    assert tests.directives == ()
    assert tests.code.endswith('if __name__ == "__main__":\n    test_tensor()')


def test_round_trip_is_lossless(cells):
    assert render_cells(cells) == MODULE


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "x = 1",
        "# %%",
        "# %%\n",
        "# %%\n# %%\n",
        "# %%\nx = 1\n\n\n",
        "# %%\r\n#| export\r\nx = 1\r\n",
        "preamble\n# %% [raw]\nraw\n# %% [md]\ntext",
        "# %%\ns = 'page\x0cbreak'\n# %%\ny = 2\n",
        MODULE,
        MODULE.replace("\n", "\r\n"),
    ],
)
def test_round_trip_of_odd_inputs(text):
    assert render_cells(parse_cells(text)) == text


def test_empty_file_has_no_cells():
    assert parse_cells("") == []


def test_crlf_file():
    cells = parse_cells(
        "# %%\r\n#| default_exp core.x\r\n\r\nx = 1\r\n\r\n# %% [markdown]\r\n# hi\r\n"
    )
    assert [cell.kind for cell in cells] == ["code", "markdown"]
    assert cells[0].directives == (Directive("default_exp", "core.x", 2),)
    assert cells[0].code == "x = 1"
    assert cells[1].line == 6


def test_md_alias_and_raw_cells():
    cells = parse_cells("# %% [md]\n# text\n# %% [raw]\n#| export\n")
    assert [cell.kind for cell in cells] == ["markdown", "raw"]
    assert cells[1].directives == ()  # directives only count in code cells


def test_percent_lookalikes_are_not_headers():
    cells = parse_cells("# %%\nx = 1\n# %%%\n#%%\n  # %%\n")
    assert len(cells) == 1


def test_form_feed_does_not_shift_line_numbers():
    # str.splitlines treats \x0c as a line break; Python (and editors) do not.
    text = "# %%\nx = '\x0c'\n\n# %%\n#| export\ny = 2\n"
    cells = parse_cells(text)
    assert [cell.line for cell in cells] == [1, 4]
    assert cells[1].directives[0].line == 5
    assert cells[0].code == "x = '\x0c'"


def test_split_lines_only_at_python_line_breaks():
    assert split_lines("a\x0cb\u2028c\rd\r\ne\n", keepends=True) == [
        "a\x0cb\u2028c\r",
        "d\r\n",
        "e\n",
    ]
    assert split_lines("a\r\n\nb") == ["a", "", "b"]
    assert split_lines("") == []


def test_invalid_metadata_json_names_file_and_line():
    text = "# %%\nx = 1\n\n# %% nbgrader={'grade': true}\ny = 2\n"
    with pytest.raises(TitoError) as caught:
        parse_cells(text, "modules/01_x/x_dev.py")
    assert str(caught.value).startswith("modules/01_x/x_dev.py:4: the cell metadata 'nbgrader='")


def test_read_cells_missing_file(tmp_path):
    with pytest.raises(TitoError, match="does not exist"):
        read_cells(tmp_path / "nope.py")


def test_cell_tests_reads_the_ast():
    """The one rule release, runner and grading share: top-level (async) def test_*."""
    from tito.course.cells import cell_tests

    text = (
        "# %%\nx = 1\n"
        '# %% nbgrader={"grade": true, "grade_id": "t", "locked": true, "points": 2}\n'
        "import functools\n\n"
        "@functools.wraps(print)\n"
        "def test_decorated():\n    pass\n\n"
        "async def test_async():\n    assert True\n\n"
        "def helper_test_not():\n    pass\n\n"
        "class TestHolder:\n    def test_method(self):\n        pass\n\n"
        "DOC = '''\ndef test_in_a_string():\n    pass\n'''\n"
        "# %% [markdown]\n# def test_in_markdown():\n"
        "# %%\ndef test_broken(:\n"
    )
    code, graded, markdown, broken = parse_cells(text)
    assert cell_tests(code) == ()
    found = cell_tests(graded)
    assert [(t.name, t.is_async) for t in found] == [
        ("test_decorated", False),
        ("test_async", True),
    ]
    assert (found[0].first_line, found[0].line) == (6, 7)  # file lines: decorator, then def
    assert cell_tests(markdown) == () and cell_tests(broken) == ()
