"""Discover the course: `modules/NN_name/module.yaml` and `milestones/<id>/milestone.yaml`.

Every file is loaded with a safe YAML loader and validated into a frozen dataclass; every
problem raises `TitoError` naming the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tito.course.errors import TitoError
from tito.course.files import decode

MODULE_FOLDER = re.compile(r"^(\d{2})_([a-z][a-z0-9_]*)$")
MILESTONE_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
DEFAULT_TIMEOUT = 300.0
# Fields of the older TinyTorch module.yaml that we accept and keep, though tito does not use them.
LEGACY_FIELDS = ("ml_systems_focus", "next_modules", "difficulty", "time_estimate", "dependencies")


@dataclass(frozen=True)
class ModuleSpec:
    """One course module, as described by its `module.yaml`."""

    id: str  # folder name, e.g. "01_tensor"
    number: int
    name: str
    title: str
    folder: Path
    file: str
    description: str = ""
    exports: tuple[str, ...] = ()
    prerequisites: tuple[str, ...] = ()
    estimated_time: str = ""
    learning_objectives: tuple[str, ...] = ()
    systems_concepts: tuple[str, ...] = ()
    test_timeout: float = DEFAULT_TIMEOUT
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source_path(self) -> Path:
        return self.folder / self.file

    @property
    def yaml_path(self) -> Path:
        return self.folder / "module.yaml"


@dataclass(frozen=True)
class MilestoneSpec:
    """One milestone demo, as described by its `milestone.yaml`."""

    id: str
    title: str
    folder: Path
    script: str
    requires: tuple[str, ...] = ()
    year: int | None = None
    description: str = ""
    criterion: str = ""
    timeout: float = 1800.0

    @property
    def script_path(self) -> Path:
        return self.folder / self.script


@dataclass(frozen=True)
class Course:
    """The whole course: modules in course order and milestones by id."""

    root: Path
    modules: dict[str, ModuleSpec]
    milestones: dict[str, MilestoneSpec]

    @property
    def package_dir(self) -> Path:
        return self.root / "tinytorch"

    @property
    def state_dir(self) -> Path:
        return self.root / ".tito"

    def module(self, key: str) -> ModuleSpec:
        """Find a module by id (`01_tensor`), number (`01`, `1`) or name (`tensor`)."""
        found = resolve_module_key(self.modules, key)
        if found is None:
            known = ", ".join(self.modules) or "none"
            raise TitoError(
                f"There is no module '{key}' in this course.",
                hint=f"Known modules: {known}. Try `tito module list`.",
            )
        return found

    def prerequisites_of(self, module: ModuleSpec) -> list[ModuleSpec]:
        """Every module `module` builds on, directly or through another, in course order."""
        needed: set[str] = set()
        stack = list(module.prerequisites)
        while stack:
            key = stack.pop()
            if key in self.modules and key not in needed and key != module.id:
                needed.add(key)
                stack += self.modules[key].prerequisites
        return [spec for key, spec in self.modules.items() if key in needed]

    def milestone(self, key: str) -> MilestoneSpec:
        if key not in self.milestones:
            known = ", ".join(self.milestones) or "none"
            raise TitoError(
                f"There is no milestone '{key}' in this course.",
                hint=f"Known milestones: {known}. Try `tito milestone list`.",
            )
        return self.milestones[key]


def resolve_module_key(modules: dict[str, ModuleSpec], key: str) -> ModuleSpec | None:
    if key in modules:
        return modules[key]
    for spec in modules.values():
        if key == spec.name or (key.isdigit() and int(key) == spec.number):
            return spec
    return None


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding `modules/` and `tinytorch/`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "modules").is_dir() and (folder / "tinytorch").is_dir():
            return folder
    raise TitoError(
        f"No TinyTorch course was found at or above {here}.",
        hint="Run tito inside the course folder (the one with modules/ and tinytorch/).",
    )


def load_course(root: Path) -> Course:
    """Load and validate every module and milestone under `root`."""
    modules = _resolve_prerequisites(_load_modules(root))
    milestones = _load_milestones(root, modules)
    return Course(root=root, modules=modules, milestones=milestones)


def load_module_spec(folder: Path) -> ModuleSpec:
    """Load one `module.yaml`; the folder name must be `NN_name` with NN equal to `number`."""
    path = folder / "module.yaml"
    data = _read_yaml(path)
    match = MODULE_FOLDER.match(folder.name)
    if not match:
        raise TitoError(f"{folder}: a module folder must be named NN_name, like 01_tensor.")
    fields = _Fields(path, data)
    name = fields.string("name", required=True)
    number = fields.integer("number", required=True)
    if number != int(match.group(1)):
        raise TitoError(
            f"{path}: field 'number' is {number} but the folder prefix is {match.group(1)}.",
            hint="Make them agree.",
        )
    file = fields.string("file") or f"{name}_dev.py"
    if "/" in file or "\\" in file or file.startswith("."):
        raise TitoError(f"{path}: field 'file' must be a file name inside the module folder.")
    known = {
        "name",
        "number",
        "title",
        "description",
        "file",
        "exports",
        "prerequisites",
        "estimated_time",
        "learning_objectives",
        "systems_concepts",
        "test_timeout",
    }
    return ModuleSpec(
        id=folder.name,
        number=number,
        name=name,
        title=fields.string("title") or name.replace("_", " ").title(),
        folder=folder,
        file=file,
        description=fields.string("description"),
        exports=fields.string_list("exports"),
        prerequisites=fields.string_list("prerequisites"),
        estimated_time=fields.string("estimated_time", coerce=True),
        learning_objectives=fields.string_list("learning_objectives"),
        systems_concepts=fields.string_list("systems_concepts"),
        test_timeout=fields.positive_number("test_timeout", DEFAULT_TIMEOUT),
        extra={key: value for key, value in data.items() if key not in known},
    )


def load_milestone_spec(folder: Path) -> MilestoneSpec:
    path = folder / "milestone.yaml"
    fields = _Fields(path, _read_yaml(path))
    milestone_id = fields.string("id") or folder.name
    if milestone_id != folder.name or not MILESTONE_ID.match(milestone_id):
        raise TitoError(f"{path}: field 'id' must be the folder name ({folder.name}).")
    script = fields.string("script", required=True)
    if "/" in script or "\\" in script or not (folder / script).is_file():
        raise TitoError(f"{path}: field 'script' must name a file in {folder} ({script!r}).")
    year = fields.integer("year") if "year" in fields.data else None
    return MilestoneSpec(
        id=milestone_id,
        title=fields.string("title", required=True),
        folder=folder,
        script=script,
        requires=fields.string_list("requires"),
        year=year,
        description=fields.string("description"),
        criterion=fields.string("criterion"),
        timeout=fields.positive_number("timeout", 1800.0),
    )


def _load_modules(root: Path) -> dict[str, ModuleSpec]:
    folder = root / "modules"
    specs = []
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        if child.is_dir() and (child / "module.yaml").is_file():
            specs.append(load_module_spec(child))
    numbers: dict[int, str] = {}
    for spec in specs:
        if spec.number in numbers:
            raise TitoError(
                f"Modules {numbers[spec.number]} and {spec.id} share number {spec.number}."
            )
        numbers[spec.number] = spec.id
    return {spec.id: spec for spec in sorted(specs, key=lambda s: s.number)}


def _resolve_prerequisites(modules: dict[str, ModuleSpec]) -> dict[str, ModuleSpec]:
    """Turn every prerequisite into a module id (older files name them `tensor`), then
    refuse unknown ones and cycles."""
    resolved = {}
    for key, spec in modules.items():
        ids = []
        for prerequisite in spec.prerequisites:
            found = resolve_module_key(modules, prerequisite)
            if found is None:
                raise TitoError(
                    f"{spec.yaml_path}: field 'prerequisites' names an unknown module "
                    f"'{prerequisite}'.",
                    hint=f"Known modules: {', '.join(modules)}.",
                )
            ids.append(found.id)
        resolved[key] = replace(spec, prerequisites=tuple(ids))
    modules = resolved
    cycle = _find_cycle({key: spec.prerequisites for key, spec in modules.items()})
    if cycle:
        first = modules[cycle[0]]
        raise TitoError(
            f"{first.yaml_path}: field 'prerequisites' makes a cycle: {' -> '.join(cycle)}."
        )
    return modules


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """A cycle in the prerequisite graph as a path of ids, or [] (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            children = graph.get(node, ())
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                if state.get(child) == 1:
                    return path[path.index(child) :] + [child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return []


def _load_milestones(root: Path, modules: dict[str, ModuleSpec]) -> dict[str, MilestoneSpec]:
    folder = root / "milestones"
    milestones = {}
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        if child.is_dir() and (child / "milestone.yaml").is_file():
            spec = load_milestone_spec(child)
            for required in spec.requires:
                if required not in modules:
                    raise TitoError(
                        f"{child / 'milestone.yaml'}: field 'requires' names an unknown module "
                        f"'{required}'."
                    )
            milestones[spec.id] = spec
    return dict(sorted(milestones.items(), key=lambda item: _unlock_order(item[1], modules)))


def _unlock_order(spec: MilestoneSpec, modules: dict[str, ModuleSpec]) -> tuple:
    """Milestones in the order a student unlocks them: by last required module, then year."""
    last = max((modules[required].number for required in spec.requires), default=0)
    return (last, spec.year or 0, spec.id)


# libyaml's loader is about 10x faster (every tito command reads every course file), but its
# messages are vaguer ("found character that cannot start any token" for a tab), so a file it
# rejects is parsed again by the pure-Python loader to explain the problem.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str):
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)


def _read_yaml(path: Path) -> dict:
    try:
        data = _parse_yaml(decode(path.read_bytes()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise TitoError(f"{path}{where}: this is not valid YAML ({problem}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TitoError(f"{path} cannot be read ({exc}).") from None
    if not isinstance(data, dict):
        raise TitoError(f"{path}: expected a mapping of fields (name: ..., number: ...).")
    return data


class _Fields:
    """Typed access to a YAML mapping; every error names the file and the field."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = path, data

    def _fail(self, key: str, expected: str) -> TitoError:
        got = type(self.data[key]).__name__
        return TitoError(f"{self.path}: field '{key}' must be {expected}, not {got}.")

    def _missing(self, key: str) -> TitoError:
        return TitoError(f"{self.path}: required field '{key}' is missing.")

    def string(self, key: str, *, required: bool = False, coerce: bool = False) -> str:
        if self.data.get(key) is None:
            if required:
                raise self._missing(key)
            return ""
        value = self.data[key]
        if coerce and isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str) or (required and not value.strip()):
            raise self._fail(key, "a non-empty string" if required else "a string")
        return value.strip()

    def integer(self, key: str, *, required: bool = False) -> int:
        if self.data.get(key) is None:
            if required:
                raise self._missing(key)
            return 0
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def positive_number(self, key: str, default: float) -> float:
        if self.data.get(key) is None:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise TitoError(f"{self.path}: field '{key}' must be a positive number of seconds.")
        return float(value)

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TitoError(f"{self.path}: field '{key}' must be a list of strings.")
        return tuple(item.strip() for item in value)
