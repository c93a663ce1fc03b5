"""Build small fixture courses inside a test's temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from tito.course.catalog import Course, load_course

PACKAGE_INIT = '"""A fixture tinytorch package."""\n'


def make_course(root: Path) -> Path:
    """An empty course: `modules/`, `milestones/` and a `tinytorch/` package."""
    (root / "modules").mkdir(parents=True, exist_ok=True)
    (root / "milestones").mkdir(exist_ok=True)
    (root / "tinytorch").mkdir(exist_ok=True)
    init = root / "tinytorch" / "__init__.py"
    if not init.exists():
        init.write_text(PACKAGE_INIT)
    return root


def add_module(root: Path, module_id: str, source: str, **fields) -> Path:
    """Write `modules/<module_id>/` with a module.yaml built from `fields` and the source file.

    `source` is dedented, so tests can write it indented inline. Returns the source path.
    """
    number, name = module_id.split("_", 1)
    data = {"name": name, "number": int(number), **fields}
    folder = root / "modules" / module_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "module.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    path = folder / data.get("file", f"{name}_dev.py")
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return path


def load(root: Path) -> Course:
    return load_course(root)
