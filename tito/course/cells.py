"""Parse jupytext "percent" files into cells, and render them back without losing a byte.

A cell starts at a line `# %%`, optionally followed by `[markdown]` / `[raw]` and metadata
written as `key=<JSON>` pairs (`# %% nbgrader={"grade": true, "points": 5}`). Text before the
first marker (a jupytext YAML header, say) is kept as a `preamble` cell. Directives are the
`#| name args` comment lines at the top of a code cell, nbdev style.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tito.course import files
from tito.course.errors import TitoError

HEADER = re.compile(r"^# %%(?=\s|$)")
KIND = re.compile(r"^\s*\[(\w+)\]")
META_KEY = re.compile(r"\s*([A-Za-z_][\w.-]*)=")
KNOWN_DIRECTIVES = frozenset({"default_exp", "export"})
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
TEST_PREFIX = "test_"
# Python ends lines only at \n, \r\n and \r; str.splitlines also splits at form feeds, \x1c-\x1e,
# \x85 and \u2028/\u2029, which would shift line numbers and break string literals apart.
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class Directive:
    """One `#| name args` line; `line` is 1-based in the source file."""

    name: str
    args: str
    line: int

    @property
    def known(self) -> bool:
        return self.name in KNOWN_DIRECTIVES


@dataclass(frozen=True)
class Cell:
    """One cell: `header` is the `# %%` line as written (None for the preamble)."""

    kind: str  # "code", "markdown", "raw" or "preamble"
    header: str | None
    body: str  # every line after the header, exactly as written
    line: int  # 1-based line of the header (of the first line, for the preamble)
    metadata: dict = field(default_factory=dict)
    title: str = ""
    directives: tuple[Directive, ...] = ()

    @property
    def body_line(self) -> int:
        """1-based line of the first body line."""
        return self.line if self.header is None else self.line + 1

    @property
    def nbgrader(self) -> dict:
        value = self.metadata.get("nbgrader")
        return value if isinstance(value, dict) else {}

    @property
    def code(self) -> str:
        """The body without directive lines and without trailing blank lines."""
        lines = split_lines(self.body)
        skip = _directive_prefix_length(lines) if self.kind == "code" else 0
        return "\n".join(lines[skip:]).strip("\n")

    def has_directive(self, name: str) -> bool:
        return any(d.name == name for d in self.directives)

    def text(self) -> str:
        """The exact text of this cell: header line plus body."""
        return self.body if self.header is None else self.header + self.body


@dataclass(frozen=True)
class TestFunction:
    """A top-level test function of a cell; lines are 1-based in the file."""

    __test__ = False  # not a pytest test class, though its name starts with Test

    name: str
    line: int  # the `def` line
    first_line: int  # its first decorator, or the `def` (Python's co_firstlineno)
    is_async: bool = False


def cell_tests(cell: Cell) -> tuple[TestFunction, ...]:
    """The test functions a code cell defines: top-level `def test_*` / `async def test_*`.

    The one rule that release, runner and grading share. Read from the AST, so a decorated or
    async test counts and a `def test_x` inside a string or a class does not. A cell that is not
    valid Python on its own defines no tests (the runner reports the syntax error itself).
    """
    if cell.kind not in ("code", "preamble"):
        return ()
    try:
        tree = ast.parse(cell.body)
    except (SyntaxError, ValueError):
        return ()
    offset = cell.body_line - 1
    return tuple(
        TestFunction(
            node.name,
            node.lineno + offset,
            min([node.lineno, *(d.lineno for d in node.decorator_list)]) + offset,
            isinstance(node, ast.AsyncFunctionDef),
        )
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith(TEST_PREFIX)
    )


def parse_cells(text: str, path: str | Path = "<string>") -> list[Cell]:
    """Split a percent-format file into cells; `render_cells(parse_cells(t)) == t`."""
    lines = split_lines(text, keepends=True)
    cells: list[Cell] = []
    start, header = 0, None
    for index, line in enumerate(lines):
        if HEADER.match(line):
            if index > start or header is not None:
                cells.append(
                    _make_cell(header, lines[start + (header is not None) : index], start, path)
                )
            start, header = index, line
    if header is not None or lines[start:]:
        cells.append(_make_cell(header, lines[start + (header is not None) :], start, path))
    return cells


def render_cells(cells: list[Cell]) -> str:
    """Join cells back into the file's text."""
    return "".join(cell.text() for cell in cells)


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Split `text` into lines the way Python's tokenizer does: at LF, CRLF and CR only."""
    lines = LINE.findall(text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


def read_cells(path: Path) -> list[Cell]:
    """Read and parse a module file, with a clear error when it cannot be read."""
    text = files.read_text(
        path, what="The module file", failure=f"{path} cannot be read as UTF-8 text"
    )
    return parse_cells(text, path)


def _make_cell(header: str | None, body_lines: list[str], start: int, path: str | Path) -> Cell:
    body = "".join(body_lines)
    line = start + 1
    if header is None:
        return Cell(kind="preamble", header=None, body=body, line=line)
    kind, title, metadata = _parse_header(header, path, line)
    directives = _parse_directives(body_lines, line + 1) if kind == "code" else ()
    return Cell(kind, header, body, line, metadata, title, directives)


def _parse_header(header: str, path: str | Path, line: int) -> tuple[str, str, dict]:
    rest = HEADER.sub("", header.rstrip("\r\n"), count=1)
    kind = "code"
    match = KIND.match(rest)
    if match:
        kind = match.group(1).lower()
        if kind == "md":
            kind = "markdown"
        rest = rest[match.end() :]
    metadata: dict = {}
    title_parts: list[str] = []
    decoder = json.JSONDecoder()
    position = 0
    while position < len(rest):
        match = META_KEY.match(rest, position)
        if not match:
            word = re.match(r"\s*(\S+)", rest[position:])
            if not word:
                break
            title_parts.append(word.group(1))
            position += word.end()
            continue
        key, value_start = match.group(1), match.end()
        try:
            value, end = decoder.raw_decode(rest, value_start)
        except json.JSONDecodeError as exc:
            raise TitoError(
                f"{path}:{line}: the cell metadata '{key}=' is not valid JSON ({exc.msg}).",
                hint='Write it as JSON, e.g. nbgrader={"grade": true, "points": 5}.',
            ) from None
        metadata[key] = value
        position = end
    return kind, " ".join(title_parts), metadata


def _parse_directives(body_lines: list[str], first_line: int) -> tuple[Directive, ...]:
    directives = []
    for offset in range(_directive_prefix_length([s.rstrip("\r\n") for s in body_lines])):
        stripped = body_lines[offset].strip()
        if not stripped.startswith("#|"):
            continue
        name, _, args = stripped[2:].strip().partition(" ")
        directives.append(Directive(name, args.strip(), first_line + offset))
    return tuple(directives)


def _directive_prefix_length(lines: list[str]) -> int:
    """How many leading lines are directives or blank (directives sit at a cell's top)."""
    count = 0
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#|"):
            break
        count += 1
    # Trailing blank lines of the prefix belong to the code, not to the directives.
    while count and not lines[count - 1].strip():
        count -= 1
    return count
