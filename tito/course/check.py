"""`tito module check`: the course author's lint of a module file.

It reads the file (it never imports or runs it) and reports what makes a module hard to learn
from or to grade, following the course-text conventions in docs/authoring.md:

| rule              | what it finds                                                          |
|-------------------|------------------------------------------------------------------------|
| spec-missing      | a function holding a solution block without a docstring outside it    |
| spec-short        | such a docstring too short to specify anything                         |
| spec-markdown     | a code cell with a solution block whose previous cell is not markdown  |
| stub-toplevel     | a solution block outside any function (the student file would not load) |
| test-far          | a graded test cell using nothing defined since the previous test cell  |
| test-cell         | a test function in a cell that is not a locked, graded cell            |
| assert-message    | an `assert` without a message in a test function                       |
| reflect-missing   | no `## Reflect` section                                                |
| reflect-questions | fewer than 3 (or more than 5) Reflect questions                        |
| reflect-answers   | a Reflect question without an answer cell after it                     |
| markers           | solution / hidden-test markers that do not balance or stand where the  |
|                   | release and grading do not expect them                                 |
| exports           | what the exporter refuses (a name in module.yaml's exports missing)    |
| syntax            | a code cell or cell header that does not parse (so it is not checked)  |

Every finding is an error: a module is clean when it has none. Alongside, `ModuleStats` counts
what issue 14 measures: solution lines, lines of text, graded tests, hidden blocks, questions.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.course import files
from tito.course.catalog import Course, ModuleSpec
from tito.course.cells import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_END,
    Cell,
    cell_tests,
    parse_cells,
    split_lines,
)
from tito.course.errors import TitoError

SOLUTION, HIDDEN = "solution", "hidden tests"
BEGINS = {SOLUTION_BEGIN: SOLUTION, HIDDEN_BEGIN: HIDDEN}
ENDS = {SOLUTION_END: SOLUTION, HIDDEN_END: HIDDEN}
# A line that means to be a marker but is not written exactly as one (`# ### BEGIN SOLUTION`
# in code, `### END SOLUTION ###`): the release would leave it, and the block, in place.
NEAR_MARKER = re.compile(r"^\s*#.*\b(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)\b")
REFLECT_HEADING = re.compile(r"^##\s+Reflect\b")
SECTION_HEADING = re.compile(r"^#{1,2}\s")
QUESTION = re.compile(r"\?|^\*\*Q\d")
# A docstring specifies nothing below both bounds ("Forward pass.", "Compute the loss."), while
# "mse_loss(predictions, targets)." names the exact call and passes.
WORD = re.compile(r"\w+")
MIN_DOCSTRING_WORDS, MIN_DOCSTRING_CHARS = 3, 20
MIN_QUESTIONS, MAX_QUESTIONS = 3, 5
SOLUTION_LINES_TARGET = 900  # issue 14: what students write in the whole course
RULES = (
    "spec-missing",
    "spec-short",
    "spec-markdown",
    "stub-toplevel",
    "test-far",
    "test-cell",
    "assert-message",
    "reflect-missing",
    "reflect-questions",
    "reflect-answers",
    "markers",
    "exports",
    "syntax",
)


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, which rule, and one sentence saying what to do."""

    file: str  # relative to the course root, forward slashes
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass
class ModuleStats:
    """What a module gives the student to read and to write, and how it is graded."""

    solution_lines: int = 0  # non-blank, non-comment lines inside code cells' solution blocks
    text_lines: int = 0  # non-blank lines of markdown a student reads (model answers excluded)
    graded_tests: int = 0  # graded cells that define test functions
    points: float = 0.0
    hidden_blocks: int = 0
    reflect_questions: int = 0

    def __add__(self, other: ModuleStats) -> ModuleStats:
        mine, theirs = asdict(self), asdict(other)
        return ModuleStats(**{key: mine[key] + theirs[key] for key in mine})


@dataclass(frozen=True)
class ModuleCheck:
    """The result of checking one module."""

    module: str
    file: str
    stats: ModuleStats
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.findings

    def rule_counts(self) -> dict[str, int]:
        """Findings per rule, in the order of RULES."""
        return _counts(self.findings)

    def to_dict(self) -> dict:
        return {
            "module": self.module,
            "file": self.file,
            "clean": self.clean,
            "stats": asdict(self.stats),
            "findings": [asdict(finding) for finding in self.findings],
        }


@dataclass(frozen=True)
class CourseCheck:
    """The results of several modules, with the course totals."""

    modules: tuple[ModuleCheck, ...]

    @property
    def clean(self) -> bool:
        return all(module.clean for module in self.modules)

    @property
    def total(self) -> ModuleStats:
        return sum((module.stats for module in self.modules), ModuleStats())

    def rule_counts(self) -> dict[str, int]:
        """Findings per rule over every module, in the order of RULES."""
        return _counts([f for module in self.modules for f in module.findings])

    def to_dict(self) -> dict:
        return {
            "clean": self.clean,
            "modules": [module.to_dict() for module in self.modules],
            "total": asdict(self.total),
            "solution_lines_target": SOLUTION_LINES_TARGET,
            "findings_per_rule": self.rule_counts(),
        }


# ── public API ──


def check_course(course: Course, modules: list[ModuleSpec] | None = None) -> CourseCheck:
    """Check the given modules (every module of the course by default), in course order."""
    specs = list(course.modules.values()) if modules is None else modules
    return CourseCheck(tuple(check_module(course, spec) for spec in specs))


def check_module(course: Course, module: ModuleSpec) -> ModuleCheck:
    """Check one module: its file against the conventions, its exports with the exporter."""
    label = _label(course, module.source_path)
    text = files.read_text(
        module.source_path, what="The module file", failure=f"{label} cannot be read as UTF-8 text"
    )
    stats, findings = check_source(text, label)
    findings += _export_findings(course, module)
    return ModuleCheck(module.id, label, stats, tuple(_sorted(findings)))


def check_source(text: str, label: str) -> tuple[ModuleStats, list[Finding]]:
    """Check a module file's text (everything but exports, which needs the course)."""
    try:
        cells = parse_cells(text, label)
    except TitoError as error:
        return ModuleStats(), [_finding_from_error(error, label, "syntax")]
    parsed = [_ParsedCell.of(cell, label) for cell in cells]
    lint = _Lint(label, parsed)
    lint.run()
    return lint.stats, _sorted(lint.findings)


# ── one cell, parsed once ──


@dataclass
class _Block:
    kind: str  # SOLUTION or HIDDEN
    begin: int  # line of the BEGIN marker, 1-based in the file
    end: int  # line of the END marker


@dataclass
class _ParsedCell:
    cell: Cell
    lines: list[str]  # body lines
    tree: ast.Module | None = None
    syntax_error: str | None = None
    blocks: list[_Block] = field(default_factory=list)
    marker_findings: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @classmethod
    def of(cls, cell: Cell, label: str) -> _ParsedCell:
        parsed = cls(cell, split_lines(cell.body))
        if cell.kind == "code":
            try:
                parsed.tree = ast.parse(cell.body, label)
            except (SyntaxError, ValueError) as exc:
                line = getattr(exc, "lineno", None) or 1
                parsed.syntax_error = f"line {cell.body_line + line - 1}: {exc}"
        parsed._scan_markers()
        return parsed

    @property
    def is_code(self) -> bool:
        return self.cell.kind == "code"

    @property
    def is_markdown(self) -> bool:
        return self.cell.kind == "markdown"

    @property
    def is_answer(self) -> bool:
        return self.is_markdown and self.cell.nbgrader.get("solution") is True

    @property
    def locked_graded(self) -> bool:
        meta = self.cell.nbgrader
        return meta.get("grade") is True and meta.get("locked") is True

    def test_functions(self) -> list[ast.FunctionDef]:
        """The cell's tests as `cell_tests` finds them (the runner's rule), as AST nodes."""
        if self.tree is None:
            return []
        names = {test.name for test in cell_tests(self.cell)}
        return [
            node
            for node in self.tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
        ]

    @property
    def is_test(self) -> bool:
        return bool(self.test_functions())

    def file_line(self, body_line: int) -> int:
        """The file line of a 1-based line of the body."""
        return self.cell.body_line + body_line - 1

    def _marker(self, line: str) -> str | None:
        stripped = line.strip()
        if self.is_markdown and stripped.startswith("# "):
            stripped = stripped[2:].strip()  # the comment form of a markdown line
        if stripped in BEGINS or stripped in ENDS:
            return stripped
        return None

    def _scan_markers(self) -> None:
        """Pair BEGIN/END markers inside this cell; note what does not pair."""
        open_block: _Block | None = None
        for index, line in enumerate(self.lines, 1):
            number = self.file_line(index)
            marker = self._marker(line)
            if marker is None:
                if self.is_code and NEAR_MARKER.match(line):
                    self.marker_findings.append(
                        (
                            number,
                            f"'{line.strip()}' looks like a marker but is not written as "
                            f"one ('{SOLUTION_BEGIN}', '{HIDDEN_END}', ... alone on the line), so "
                            "the release keeps it and the code it should hide.",
                        )
                    )
                continue
            if marker in BEGINS:
                if open_block is not None:
                    self.marker_findings.append(
                        (
                            number,
                            f"'{marker}' inside the {open_block.kind} block opened on line "
                            f"{open_block.begin}; blocks cannot nest.",
                        )
                    )
                    continue
                open_block = _Block(BEGINS[marker], number, number)
            elif open_block is None or ENDS[marker] != open_block.kind:
                opened = "" if open_block is None else f" (the open block is {open_block.kind})"
                self.marker_findings.append(
                    (number, f"'{marker}' closes no block opened before it in this cell{opened}.")
                )
            else:
                open_block.end = number
                self.blocks.append(open_block)
                open_block = None
        if open_block is not None:
            self.marker_findings.append(
                (
                    open_block.begin,
                    f"this {open_block.kind} block is never closed in its cell; "
                    "close it before the next '# %%'.",
                )
            )


# ── the rules ──


class _Lint:
    """Runs every rule over the parsed cells, collecting findings and stats."""

    def __init__(self, label: str, cells: list[_ParsedCell]):
        self.label = label
        self.cells = cells
        self.stats = ModuleStats()
        self.findings: list[Finding] = []

    def add(self, line: int, rule: str, message: str) -> None:
        self.findings.append(Finding(self.label, line, rule, message))

    def run(self) -> None:
        for index, cell in enumerate(self.cells):
            if cell.syntax_error:
                self.add(
                    cell.cell.line,
                    "syntax",
                    f"this code cell does not parse "
                    f"({cell.syntax_error}), so it was not checked further.",
                )
            self._markers(cell)
            self._stubs(index, cell)
            self._tests(index, cell)
            self._count(cell)
        self._reflect()

    # markers

    def _markers(self, cell: _ParsedCell) -> None:
        for line, message in cell.marker_findings:
            self.add(line, "markers", message)
        for block in cell.blocks:
            where = self._misplaced(cell, block)
            if where:
                self.add(block.begin, "markers", where)
        if cell.is_answer and not any(b.kind == SOLUTION for b in cell.blocks):
            self.add(
                cell.cell.line,
                "markers",
                "this answer cell has no '# ### BEGIN SOLUTION' / "
                "'# ### END SOLUTION' around the model answer, so the release cannot blank it.",
            )

    @staticmethod
    def _misplaced(cell: _ParsedCell, block: _Block) -> str | None:
        """Why the release or grading would mishandle this block here, if it would."""
        if block.kind == HIDDEN:
            if cell.syntax_error:
                return None  # the cell is already reported; its test functions are unknown
            if not (cell.is_code and cell.locked_graded and cell.is_test):
                return (
                    "hidden tests belong inside a test function of a locked, graded test cell "
                    '(nbgrader={"grade": true, "locked": true, ...}); here grading never runs them.'
                )
            return None
        if cell.is_markdown and not cell.is_answer:
            return (
                'solution markers in a markdown cell without "solution": true in its nbgrader '
                "metadata: mark it as an answer cell, or remove the markers."
            )
        if cell.is_code and cell.locked_graded:
            return "a solution block in a locked test cell: students cannot edit it, so move it."
        return None

    # stubs: a readable spec before and around every solution block

    def _stubs(self, index: int, cell: _ParsedCell) -> None:
        solutions = [b for b in cell.blocks if b.kind == SOLUTION]
        if not cell.is_code or not solutions or cell.tree is None:
            return
        previous = self._previous_cell(index)
        if previous is None or not previous.is_markdown:
            self.add(
                cell.cell.line,
                "spec-markdown",
                "this cell holds a solution block but no "
                "markdown cell comes right before it; explain and specify the piece there.",
            )
        functions = _functions(cell.tree)
        reported: set[str] = set()
        for block in solutions:
            owner = _innermost(functions, cell, block.begin)
            if owner is None:
                self.add(
                    block.begin,
                    "stub-toplevel",
                    "this solution block is outside any "
                    "function, so the student's file raises NotImplementedError when it loads; "
                    "put it in a function or method body.",
                )
            elif owner[0] not in reported:
                reported.add(owner[0])
                self._docstring(cell, owner[0], owner[1], solutions)

    def _docstring(
        self, cell: _ParsedCell, name: str, node: ast.AST, solutions: list[_Block]
    ) -> None:
        line = cell.file_line(node.lineno)
        doc = _docstring_node(node)
        inside = doc is not None and any(
            b.begin <= cell.file_line(doc.lineno) <= b.end for b in solutions
        )
        if doc is None or inside:
            self.add(
                line,
                "spec-missing",
                f"{name}() holds a solution block but has no docstring "
                "outside the markers; the student copy keeps only what stands outside them.",
            )
            return
        text = " ".join(str(doc.value).split())
        if len(WORD.findall(text)) < MIN_DOCSTRING_WORDS or len(text) < MIN_DOCSTRING_CHARS:
            self.add(
                line,
                "spec-short",
                f"the docstring of {name}() ('{text}') is too short to specify anything; say "
                "what it computes, the shapes and what it returns.",
            )

    def _previous_cell(self, index: int) -> _ParsedCell | None:
        for cell in reversed(self.cells[:index]):
            if cell.cell.kind != "preamble" and cell.cell.body.strip():
                return cell
        return None

    # tests

    def _tests(self, index: int, cell: _ParsedCell) -> None:
        tests = cell.test_functions()
        if not tests:
            return
        for test in tests:
            for node in ast.walk(test):
                if isinstance(node, ast.Assert) and node.msg is None:
                    self.add(
                        cell.file_line(node.lineno),
                        "assert-message",
                        f"an assert in "
                        f"{test.name}() has no message; say what was expected and what was got.",
                    )
        meta = cell.cell.nbgrader
        if not (cell.locked_graded and meta.get("grade_id")):
            names = ", ".join(f"{t.name}()" for t in tests)
            self.add(
                cell.cell.line,
                "test-cell",
                f"{names} stand(s) in a cell that is not a locked, "
                'graded cell with a grade_id (nbgrader={"grade": true, "locked": true, ...}), '
                "so grading ignores it or students can edit it.",
            )
            return
        self._test_far(index, cell, tests)

    def _test_far(self, index: int, cell: _ParsedCell, tests: list[ast.FunctionDef]) -> None:
        defined: list[str] = []
        for before in reversed(self.cells[:index]):
            if before.is_code and before.is_test:
                break
            if before.is_code and before.tree is not None:
                defined += [n for n in _defined_names(before.tree) if n not in defined]
        used = {n.id for test in tests for n in ast.walk(test) if isinstance(n, ast.Name)}
        if used & set(defined):
            return
        grade_id = cell.cell.nbgrader.get("grade_id")
        if not defined:
            message = (
                f"test cell '{grade_id}' follows no code defined since the previous test cell; "
                "move it right after the code it tests."
            )
        else:
            shown = ", ".join(defined[:5]) + (", ..." if len(defined) > 5 else "")
            message = (
                f"test cell '{grade_id}' uses none of the names defined just before it "
                f"({shown}); move it right after the code it tests."
            )
        self.add(cell.cell.line, "test-far", message)

    # stats

    def _count(self, cell: _ParsedCell) -> None:
        stats = self.stats
        if cell.is_code:
            for block in cell.blocks:
                if block.kind == HIDDEN:
                    stats.hidden_blocks += 1
                    continue
                for number in range(block.begin + 1, block.end):
                    text = cell.lines[number - cell.cell.body_line].strip()
                    if text and not text.startswith("#"):
                        stats.solution_lines += 1
            if cell.is_test and cell.cell.nbgrader.get("grade") is True:
                stats.graded_tests += 1
                points = cell.cell.nbgrader.get("points", 0)
                if isinstance(points, int | float) and not isinstance(points, bool):
                    stats.points += points
        elif cell.is_markdown:
            hidden = {n for b in cell.blocks for n in range(b.begin, b.end + 1)}
            stats.text_lines += sum(
                1
                for offset, text in enumerate(_markdown_lines(cell.lines))
                if text.strip() and cell.file_line(offset + 1) not in hidden
            )

    # reflect

    def _reflect(self) -> None:
        headings = [i for i, c in enumerate(self.cells) if c.is_markdown and _is_reflect_heading(c)]
        if not headings:
            last = self.cells[-1].cell.line if self.cells else 1
            self.add(
                last,
                "reflect-missing",
                "the module has no '## Reflect' section; end it with "
                "3-5 questions on memory, compute and scaling, each with an answer cell.",
            )
            return
        start = headings[-1]
        section = self._reflect_section(start)
        questions = [
            (i, c) for i, c in section if c.is_markdown and not c.is_answer and _is_question(c)
        ]
        answers = [c for _, c in section if c.is_answer]
        self.stats.reflect_questions = len(questions)
        heading_line = self.cells[start].cell.line
        if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
            self.add(
                heading_line,
                "reflect-questions",
                f"the Reflect section has {len(questions)} "
                f"question(s); ask {MIN_QUESTIONS}-{MAX_QUESTIONS}, each in its own markdown cell.",
            )
        if not answers:
            self.add(
                heading_line,
                "reflect-answers",
                "the Reflect section has no answer cells "
                '(markdown cells with "solution": true in their nbgrader metadata).',
            )
            return
        for index, question in questions:
            following = self._next_cell(index)
            if following is None or not following.is_answer:
                self.add(
                    question.cell.line,
                    "reflect-answers",
                    "this question has no answer cell "
                    'right after it (a markdown cell with "solution": true).',
                )

    def _reflect_section(self, start: int) -> list[tuple[int, _ParsedCell]]:
        """The cells after the heading, up to the next level-1 or level-2 heading."""
        section = []
        for index in range(start + 1, len(self.cells)):
            cell = self.cells[index]
            first = _first_text(cell) if cell.is_markdown else ""
            if cell.is_markdown and SECTION_HEADING.match(first) and not cell.is_answer:
                break
            section.append((index, cell))
        return section

    def _next_cell(self, index: int) -> _ParsedCell | None:
        for cell in self.cells[index + 1 :]:
            if cell.cell.body.strip():
                return cell
        return None


# ── helpers ──


def _functions(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """Every function and method in the tree with its qualified name (`Linear.forward`)."""
    found: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _innermost(
    functions: list[tuple[str, ast.AST]], cell: _ParsedCell, line: int
) -> tuple[str, ast.AST] | None:
    """The innermost function whose body holds the given file line."""
    holding = [
        (name, node)
        for name, node in functions
        if cell.file_line(node.lineno) < line <= cell.file_line(node.end_lineno or node.lineno)
    ]
    return max(holding, key=lambda item: item[1].lineno, default=None)


def _docstring_node(node: ast.AST) -> ast.Constant | None:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            return body[0].value
    return None


def _defined_names(tree: ast.Module) -> list[str]:
    """Names a cell defines at top level: def, class, and assignment targets (their roots)."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names += _target_roots(target)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names += _target_roots(node.target)
    return names


def _target_roots(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Tuple | ast.List):
        return [name for item in target.elts for name in _target_roots(item)]
    while isinstance(target, ast.Attribute | ast.Subscript | ast.Starred):
        target = target.value  # `Tensor.matmul = ...` changes Tensor
    return [target.id] if isinstance(target, ast.Name) else []


def _markdown_lines(lines: list[str]) -> list[str]:
    """A markdown cell's text lines: comment prefixes removed, one entry per body line."""
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            stripped = stripped[2:] if stripped.startswith("# ") else stripped[1:]
        elif stripped in ('"""', "'''", 'r"""', "r'''"):
            stripped = ""  # the quotes of the string form are not text
        out.append(stripped)
    return out


def _first_text(cell: _ParsedCell) -> str:
    return next((t.strip() for t in _markdown_lines(cell.lines) if t.strip()), "")


def _is_reflect_heading(cell: _ParsedCell) -> bool:
    return bool(REFLECT_HEADING.match(_first_text(cell)))


def _is_question(cell: _ParsedCell) -> bool:
    return any(QUESTION.search(text) for text in _markdown_lines(cell.lines))


def _export_findings(course: Course, module: ModuleSpec) -> list[Finding]:
    """The exporter's own checks (exports listed but not defined, bad targets), as findings."""
    from tito.course.export import plan_export

    try:
        plan_export(course, module)
    except TitoError as error:
        finding = _finding_from_error(error, _label(course, module.yaml_path), "exports")
        if finding.file == _label(course, module.yaml_path):
            finding = Finding(
                finding.file, _yaml_line(module.yaml_path, "exports"), finding.rule, finding.message
            )
        return [finding]
    return []


def _finding_from_error(error: TitoError, label: str, rule: str) -> Finding:
    """A TitoError as a finding, at the `file:line:` it names if it names one."""
    match = re.match(r"^(\S+?):(\d+): (.*)$", error.message, re.DOTALL)
    if match:
        return Finding(match.group(1), int(match.group(2)), rule, match.group(3))
    return Finding(label, 1, rule, error.message)


def _yaml_line(path: Path, key: str) -> int:
    try:
        lines = split_lines(files.read_text(path))
    except TitoError:
        return 1
    return next((n for n, text in enumerate(lines, 1) if text.startswith(f"{key}:")), 1)


def _label(course: Course, path: Path) -> str:
    try:
        return path.relative_to(course.root).as_posix()
    except ValueError:
        return path.as_posix()


def _counts(findings: list[Finding] | tuple[Finding, ...]) -> dict[str, int]:
    counts = Counter(finding.rule for finding in findings)
    return {rule: counts[rule] for rule in RULES if counts[rule]}


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file, f.line, RULES.index(f.rule), f.message))
