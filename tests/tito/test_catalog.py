"""module.yaml / milestone.yaml loading and validation."""

from __future__ import annotations

import pytest
import yaml

from tests.coursekit import add_module, load, make_course
from tito.course.errors import TitoError

SOURCE = "def test_ok():\n    assert True\n"


@pytest.fixture
def course_root(tmp_path):
    return make_course(tmp_path / "course")


def test_loads_modules_in_course_order_with_defaults(course_root):
    add_module(course_root, "02_b", SOURCE, prerequisites=["01_a"])
    add_module(course_root, "01_a", SOURCE, exports=["Thing"], test_timeout=12)
    course = load(course_root)
    assert list(course.modules) == ["01_a", "02_b"]
    first = course.modules["01_a"]
    assert first.file == "a_dev.py" and first.source_path.is_file()
    assert first.exports == ("Thing",) and first.test_timeout == 12.0
    assert first.title == "A"
    assert course.module("1") is first and course.module("a") is first


def test_older_tinytorch_format_loads(course_root):
    folder = course_root / "modules" / "01_tensor"
    folder.mkdir(parents=True)
    (folder / "tensor_dev.py").write_text(SOURCE)
    (folder / "module.yaml").write_text(
        "name: tensor\nnumber: 1\ndescription: Tensors\nestimated_time: 4\n"
        "exports: [Tensor]\nlearning_objectives: [one]\nprerequisites: []\n"
        "systems_concepts: [memory]\nml_systems_focus: Memory layout\n"
        "next_modules: [activations]\n"
    )
    add_module(course_root, "02_activations", SOURCE, prerequisites=["tensor"])
    course = load(course_root)
    spec = course.modules["01_tensor"]
    assert spec.estimated_time == "4" and spec.extra["ml_systems_focus"] == "Memory layout"
    assert course.modules["02_activations"].prerequisites == ("01_tensor",), "names resolve to ids"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": None}, "required field 'name' is missing"),
        ({"number": "one"}, "field 'number' must be an integer"),
        ({"exports": "Tensor", "prerequisites": [1]}, "field 'prerequisites' must be a list"),
        ({"prerequisites": ["09_nothing"]}, "unknown module '09_nothing'"),
        ({"number": 7}, "field 'number' is 7 but the folder prefix is 01"),
        ({"test_timeout": -1}, "field 'test_timeout' must be a positive number"),
        ({"file": "../escape.py"}, "field 'file' must be a file name"),
    ],
)
def test_bad_module_yaml_names_file_and_field(course_root, fields, expected):
    add_module(course_root, "01_a", SOURCE)
    path = course_root / "modules" / "01_a" / "module.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if v is not None}))
    with pytest.raises(TitoError) as error:
        load(course_root)
    assert expected in str(error.value) and "module.yaml" in str(error.value)


def test_prerequisite_cycle_is_refused(course_root):
    add_module(course_root, "01_a", SOURCE, prerequisites=["03_c"])
    add_module(course_root, "02_b", SOURCE, prerequisites=["01_a"])
    add_module(course_root, "03_c", SOURCE, prerequisites=["02_b"])
    with pytest.raises(TitoError, match="makes a cycle: .*01_a.*"):
        load(course_root)


def test_invalid_yaml_reports_line(course_root):
    add_module(course_root, "01_a", SOURCE)
    (course_root / "modules" / "01_a" / "module.yaml").write_text("name: [a\nnumber: 1\n")
    with pytest.raises(TitoError, match=r"module.yaml:\d+: this is not valid YAML"):
        load(course_root)


def test_tab_indentation_is_named(course_root):
    # The fast C loader only says "found character that cannot start any token".
    add_module(course_root, "01_a", SOURCE)
    (course_root / "modules" / "01_a" / "module.yaml").write_text("name: a\n\tnumber: 1\n")
    with pytest.raises(TitoError, match=r"module.yaml:2: this is not valid YAML .*'\\t'"):
        load(course_root)


def test_unknown_module_key_lists_known_ones(course_root):
    add_module(course_root, "01_a", SOURCE)
    with pytest.raises(TitoError) as error:
        load(course_root).module("99_nope")
    assert "99_nope" in error.value.message and "01_a" in error.value.hint


def test_milestones_load_and_validate_requires(course_root):
    add_module(course_root, "01_a", SOURCE)
    folder = course_root / "milestones" / "demo"
    folder.mkdir()
    (folder / "demo.py").write_text("print('{\"passed\": true}')\n")
    (folder / "milestone.yaml").write_text(
        "id: demo\ntitle: Demo\nyear: 1957\nrequires: [01_a]\nscript: demo.py\n"
        "criterion: accuracy >= 0.9\n"
    )
    spec = load(course_root).milestone("demo")
    assert spec.requires == ("01_a",) and spec.year == 1957 and spec.script_path.is_file()
    (folder / "milestone.yaml").write_text(
        "id: demo\ntitle: Demo\nrequires: [02_x]\nscript: demo.py\n"
    )
    with pytest.raises(TitoError, match="unknown module '02_x'"):
        load(course_root)


def test_milestones_are_listed_in_the_order_they_unlock(course_root):
    for module_id in ("01_a", "02_b", "03_c"):
        add_module(course_root, module_id, SOURCE)
    # (folder name, year, requires): folder names sort the opposite way on purpose.
    for name, year, requires in (
        ("a_late", 2019, "[01_a, 03_c]"),
        ("b_same_module_later_year", 1990, "[02_b]"),
        ("c_same_module_earlier_year", 1957, "[01_a, 02_b]"),
        ("d_first", 1999, "[01_a]"),
    ):
        folder = course_root / "milestones" / name
        folder.mkdir(parents=True)
        (folder / "run.py").write_text("print('{\"passed\": true}')\n")
        (folder / "milestone.yaml").write_text(
            f"id: {name}\ntitle: T\nyear: {year}\nrequires: {requires}\nscript: run.py\n"
        )
    assert list(load(course_root).milestones) == [
        "d_first",
        "c_same_module_earlier_year",
        "b_same_module_later_year",
        "a_late",
    ]
