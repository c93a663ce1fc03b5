"""What makes a student release a course a student can take: its README and set-up scripts.

`tito release student OUT` copies the course, strips the solutions, reduces the package; then
`adapt_for_students` turns the copy from the instructor's repository into the student's:

- README.md written for someone who has never seen the course: set-up, the loop, notebooks,
  milestones, what to do when a test fails. Its module and milestone tables come from the
  course's own YAML, so they stay true as the course changes. It says nothing of grading,
  releases, the developers' tests or reference solutions.
- `scripts/setup.sh` and `scripts/setup.ps1` (Windows): a virtual environment with tito,
  NumPy and Jupyter, then `tito status`. Nothing that completes modules for the student.
- The instructor's files removed: the main job that completes every module (it would fail at
  01 by design), the test job and CI (they run a `tests/` folder the copy does not have), the
  design and authoring notes (they describe reference solutions and grading).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tito.course import files
from tito.course.catalog import Course, MilestoneSpec, ModuleSpec, load_course

# Paths (relative to the course root) that only instructors and contributors use.
INSTRUCTOR_ONLY = (
    "scripts/course.sh",
    "scripts/test.sh",
    "scripts/setup-venv.sh",
    ".ci",
    ".github",
    "noxfile.py",
    ".nox",
    "docs/design.md",
    "docs/authoring.md",
    "docs/grading.md",
    "docs/README.md",
)
PIP_EXTRAS = "notebook"  # pyproject's extra with jupytext and JupyterLab
API_ROW = "| `docs/api.md` | the `tinytorch` API the modules build: names and signatures |\n"


def adapt_for_students(copy_root: Path) -> int:
    """Remove instructor-only files from a release and write the student's README and set-up.

    Returns the change in the number of files of the copy (files written that were not there,
    minus files removed), so the release's file count stays true.
    """
    change = 0
    for relative in INSTRUCTOR_ONLY:
        change -= _remove(copy_root / relative)
    course = load_course(copy_root)
    written = {
        "README.md": student_readme(course),
        "scripts/setup.sh": SETUP_SH,
        "scripts/setup.ps1": SETUP_PS1,
    }
    for relative, text in written.items():
        path = copy_root / relative
        change += not path.exists()
        files.write_atomic(path, text)
    (copy_root / "scripts" / "setup.sh").chmod(0o755)
    return change


def _remove(path: Path) -> int:
    """Delete a file or a folder; the number of files that went."""
    if path.is_dir() and not path.is_symlink():
        count = sum(1 for p in path.rglob("*") if not p.is_dir())
        shutil.rmtree(path)
        return count
    if path.exists() or path.is_symlink():
        path.unlink()
        return 1
    return 0


def student_readme(course: Course) -> str:
    """The README of a student copy, with this course's modules and milestones."""
    modules = list(course.modules.values())
    first = modules[0].id if modules else "01_tensor"
    return README.format(
        loop=_commented(
            ("tito module list", "every module: locked, available, started or completed"),
            (f"tito module start {first}", f"shows the file to edit: {_first_file(course)}"),
            (f"tito module test {first}", "runs the module's tests (as often as you like)"),
            (f"tito module complete {first}", "tests pass: your code goes into tinytorch/"),
            ("tito status", "where you are, and the next step"),
        ),
        notebook_loop=_commented(
            (f"tito module start {first} --notebook", "writes the notebook beside the .py"),
            ("jupyter lab", "open the notebook, edit, run its cells"),
            (f"tito module complete {first}", "tests the code in your notebook"),
        ),
        first=first,
        first_file=_first_file(course),
        modules=_module_table(modules),
        milestones=_milestone_table(course, list(course.milestones.values())),
        api_row=API_ROW if (course.root / "docs" / "api.md").is_file() else "",
    )


def _first_file(course: Course) -> str:
    for module in course.modules.values():
        return module.source_path.relative_to(course.root).as_posix()
    return "modules/01_tensor/tensor_dev.py"


def _commented(*lines: tuple[str, str]) -> str:
    """Shell lines with their comments in one column."""
    width = max(len(command) for command, _ in lines) + 2
    return "\n".join(f"{command.ljust(width)}# {comment}" for command, comment in lines)


def _module_table(modules: list[ModuleSpec]) -> str:
    rows = ["| # | module | what you build | time |", "|---|---|---|---|"]
    for module in modules:
        what = _first_sentence(module.description) or module.title
        rows.append(f"| {module.number:02d} | `{module.id}` | {what} | {module.estimated_time} |")
    return "\n".join(rows)


def _milestone_table(course: Course, milestones: list[MilestoneSpec]) -> str:
    if not milestones:
        return "This course has no milestones yet."
    rows = ["| milestone | unlocked by | passes when |", "|---|---|---|"]
    numbers = {m.id: m.number for m in course.modules.values()}
    for milestone in milestones:
        needs = _number_ranges(sorted(numbers.get(m, 0) for m in milestone.requires))
        passes = milestone.criterion or _first_sentence(milestone.description)
        rows.append(f"| `{milestone.id}`: {milestone.title} | {needs} | {passes} |")
    return "\n".join(rows)


def _number_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "01-03, 05"."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(
        f"{run[0]:02d}" if len(run) == 1 else f"{run[0]:02d}-{run[-1]:02d}" for run in runs
    )


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    head, dot, _ = text.partition(". ")
    return (head + ("." if dot else "")).replace("|", "/")


README = """\
# TinyTorch: build your own deep-learning framework

In this course you write a deep-learning framework, `tinytorch`, from scratch on NumPy, one
module at a time: tensors, activations, layers, losses, automatic differentiation, optimizers,
training, data loading, tokenizers, embeddings, attention, transformers. By the end, a GPT runs
on code you wrote, every line of it.

`tito` is the course's command-line tool. It runs your tests, copies your finished code into
the `tinytorch` package, keeps track of your progress and runs the milestone demos.

## Set up (once)

You need Python 3.11 or newer. In this folder:

- Linux and macOS: `bash scripts/setup.sh`
- Windows (PowerShell): `powershell -ExecutionPolicy Bypass -File scripts\\setup.ps1`

This makes a virtual environment in `.venv/` with tito, NumPy and JupyterLab, then shows
your progress (nothing done yet). Then activate the environment in every new terminal, so
that `tito` and `jupyter` are found:

- Linux and macOS: `source .venv/bin/activate`
- Windows: `.venv\\Scripts\\Activate.ps1` (if PowerShell refuses to run it, first run
  `Set-ExecutionPolicy -Scope CurrentUser RemoteSigned` once)

Tip: keep your work in git (`git init`, then commit after each module). Then
`tito module reset NN --restore-source` can take a module back to your last commit.

## The loop

```bash
{loop}
```

Each module file is the lesson and the exercise at once: explanations, then functions to
write. Where you see

```python
# YOUR CODE HERE
raise NotImplementedError()
```

replace those two lines with your code. The text around them says what the function takes,
what it returns and an example. The tests at the end of the module say what "done" means.
Don't edit the test cells (the ones that define `test_...` functions): they are how your work
is checked.

Cells marked `#| export` are your framework. `tito module complete` copies them into the
`tinytorch` package, and later modules import them from there: the attention you write in a
later module runs on the tensor you wrote in module 01. A module unlocks when the modules it
builds on are completed.

## Working in Jupyter notebooks

Most people work in notebooks:

```bash
{notebook_loop}
```

Run the notebook's last cell to run the module's tests right there. When you run
`tito module test` or `complete`, tito brings the edits you made in the notebook into the
module's `.py` file first and tells you so; that file is what gets tested and exported.

Work in one place at a time. If you edit both the notebook and the `.py` and they differ, tito
stops and names both files rather than guess which one holds your work. Then keep one side:

- keep the notebook: `tito notebook NN --sync --force`
- keep the `.py`: `tito notebook NN --force` (writes the notebook again from the `.py`)

`tito module start NN --notebook` and `tito notebook NN` never overwrite a notebook that holds
edits the `.py` does not have.

## When a test fails

`tito module test` prints a table with one row per test, then one line per failing test:

```
✗ test_add: shapes (2, 3) and (3,) should broadcast to (2, 3) (tensor_dev.py:412)
```

- The message says what was expected; `tensor_dev.py:412` is the line in your file. Below it,
  the traceback is trimmed to your own code.
- `not implemented yet: Tensor.__add__` means that function still raises
  NotImplementedError: it is the next one to write.
- `SyntaxError at tensor_dev.py:57` (or an import error) means the file could not even be
  loaded: fix that line first, no test runs before it loads.
- `Timed out after 120 s in test_...`: that test ran too long and was stopped; look for a loop
  that never ends, or work far larger than the test needs.
- A test of a later module fails inside `tinytorch/...`: the bug may be in code you wrote
  earlier. Fix it in that module and run `tito module complete` for it again.
- To run a module's code yourself, run the file: `python {first_file}` (or run the cells of
  the notebook); it calls its tests at the end.
- `tito system doctor` checks your set-up: Python, packages, the course folder.

Nothing is ever lost by running a test. `tito module complete` writes to `tinytorch/` only when
every test of the module passes.

## Modules

{modules}

## Milestones

Milestones are demos from the history of deep learning that run on *your* `tinytorch`, with
data they make themselves. Each unlocks when its modules are completed, and passes only when
its success criterion is met, not merely when it runs:

```bash
tito milestone list                  # what each needs and your best result
tito milestone run perceptron        # add --quick for a shorter run
```

{milestones}

## What is where

| path | what |
|---|---|
| `modules/NN_name/` | the file you edit (`name_dev.py`, or the notebook `name_dev.ipynb`) |
| `tinytorch/` | your framework, filled in by `tito module complete`; don't edit it by hand |
| `milestones/` | the demo scripts |
| `.tito/progress.json` | your progress, written by tito |
{api_row}
`tito --help` and `tito module --help` list every command.
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Set up this TinyTorch copy: a virtual environment in .venv with tito, NumPy and JupyterLab.
# Run it again any time; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "TinyTorch needs Python 3.11 or newer; '$PYTHON' is not." >&2
  echo "Install a newer Python, or run: PYTHON=/path/to/python3.11 bash scripts/setup.sh" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ..."
  "$PYTHON" -m venv .venv
fi
echo "Installing tito, NumPy and JupyterLab (a few minutes the first time) ..."
# editable_mode=compat puts this folder on the environment's path, so `tinytorch` is always
# the package in this folder: the one your completed modules fill in.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \\
  --config-settings editable_mode=compat -e ".[{extras}]"
.venv/bin/tito status
echo
echo "Ready. In every new terminal, first run:  source .venv/bin/activate"
echo "Then start with:  tito module start {first} --notebook   (or without --notebook for the .py)"
""".replace("{extras}", PIP_EXTRAS).replace("{first}", "01_tensor")

SETUP_PS1 = """\
# Set up this TinyTorch copy on Windows: a virtual environment in .venv with tito, NumPy and
# JupyterLab. Run it again any time; it only installs what is missing.
#   powershell -ExecutionPolicy Bypass -File scripts\\setup.ps1
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
# The py launcher picks the newest installed Python; $env:PYTHON overrides it.
if ($env:PYTHON) {{ $python = @($env:PYTHON) }}
elseif (Get-Command py -ErrorAction SilentlyContinue) {{ $python = @("py", "-3") }}
else {{ $python = @("python") }}
$exe, $pyArgs = $python
& $exe @pyArgs -c "import sys; sys.exit(sys.version_info < (3, 11))"
if ($LASTEXITCODE -ne 0) {{
  Write-Error "TinyTorch needs Python 3.11 or newer (https://www.python.org/downloads/)."
  exit 1
}}
if (-not (Test-Path ".venv\\Scripts\\python.exe")) {{
  Write-Host "Creating the virtual environment in .venv ..."
  & $exe @pyArgs -m venv .venv
  if ($LASTEXITCODE -ne 0) {{ exit $LASTEXITCODE }}
}}
Write-Host "Installing tito, NumPy and JupyterLab (a few minutes the first time) ..."
$env:PYTHONUTF8 = "1"
& .venv\\Scripts\\python.exe -m pip install --quiet --disable-pip-version-check `
  --config-settings editable_mode=compat -e ".[{extras}]"
if ($LASTEXITCODE -ne 0) {{ exit $LASTEXITCODE }}
& .venv\\Scripts\\tito.exe status
Write-Host ""
Write-Host "Ready. In every new terminal, first run:  .venv\\Scripts\\Activate.ps1"
Write-Host "Then start with:  tito module start {first} --notebook"
""".format(extras=PIP_EXTRAS, first="01_tensor")
