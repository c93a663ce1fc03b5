"""A Gradescope autograder: the zip `tito release gradescope` builds, and what runs inside it.

Gradescope unpacks the zip into `/autograder/source`, runs `setup.sh` once when it builds the
image, and for every submission copies the student's files into `/autograder/submission`,
runs `/autograder/run_autograder` and reads `/autograder/results/results.json`. Tests run the
same script under a simulated root: `AUTOGRADER_ROOT` replaces `/autograder`.

The zip holds only what grading needs (see docs/grading.md):

    setup.sh, run_autograder, requirements.txt   at the root, as Gradescope requires
    gradescope.json                              which modules to grade
    course/tito/                                 the toolchain that grades
    course/modules/*/module.yaml                 the catalog
    course/modules/<graded>/<file>               the instructor's file for each graded module,
                                                 solutions stripped, hidden tests kept
    course/releases/*.json                       the release records (fingerprints)
    packages/<graded>/tinytorch/                 the reference package of its earlier modules

`main` always writes results.json, whatever happens: a submission that does not parse,
crashes or hangs scores zero with the reason, and an error of the grader itself still
produces a results.json that says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from tito import __version__
from tito.course import files
from tito.course.catalog import Course, load_course
from tito.course.errors import TitoError
from tito.course.grading import HIDDEN_FAILED, GradedTest, GradeReport, grade_module
from tito.course.release import RELEASES, read_records, skip_names, strip_cell, student_text

CONFIG = "gradescope.json"
# Packages the course needs at grading time (notebook submissions need jupytext).
REQUIREMENTS = ("numpy", "pyyaml", "jupytext", "nbformat")
OUTPUT_LIMIT = 2000  # characters of feedback per test

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv /autograder/tito-venv
/autograder/tito-venv/bin/pip install --upgrade pip
/autograder/tito-venv/bin/pip install -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (copied to /autograder/run_autograder).
# AUTOGRADER_ROOT replaces /autograder (tests); TITO_PYTHON picks the interpreter.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
PYTHON="${TITO_PYTHON:-$ROOT/tito-venv/bin/python}"
if [ ! -x "$PYTHON" ]; then PYTHON="$(command -v python3)"; fi
mkdir -p "$ROOT/results"
if cd "$SOURCE/course"; then
  PYTHONPATH="$SOURCE/course" "$PYTHON" -m tito.course.gradescope --root "$ROOT"
fi
if [ ! -s "$ROOT/results/results.json" ]; then
  # The grader itself could not run (no Python, a broken image): still tell Gradescope.
  MESSAGE="The autograder could not start; please tell your instructor."
  printf '{"score": 0, "execution_time": 0, "output": "%s", "tests": []}\\n' "$MESSAGE" \\
    > "$ROOT/results/results.json"
fi
exit 0
"""


# ── building the zip ──


def build_autograder(course: Course, out: Path, module_ids: list[str]) -> Path:
    """Write the autograder zip for `module_ids` to `out` (atomically)."""
    if not module_ids:
        raise TitoError("Name at least one module to grade: --module ID.")
    modules = [course.module(key) for key in module_ids]
    if out.suffix != ".zip":
        raise TitoError(f"{out} should end in .zip (Gradescope takes a zip file).")
    out = Path(os.path.abspath(out))
    with tempfile.TemporaryDirectory(prefix="tito-gradescope-") as scratch:
        staging = Path(scratch) / "autograder"
        staging.mkdir()
        _write_course(course, staging / "course", [m.id for m in modules])
        for module in modules:
            from tito.course.grading import prepare_package

            prepare_package(course, module, staging / "packages")
        config = {
            "modules": [m.id for m in modules],
            "tito_version": __version__,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        files.write_text(staging / CONFIG, json.dumps(config, indent=2) + "\n")
        files.write_text(staging / "requirements.txt", _requirements())
        # Written as given, LF: a CRLF from Windows would break the scripts on Gradescope.
        files.write_text(staging / "setup.sh", SETUP_SH)
        files.write_text(staging / "run_autograder", RUN_AUTOGRADER)
        try:
            with files.replacing(out) as temporary:
                _zip(staging, temporary)
        except OSError as error:
            raise TitoError(f"Could not write {out} ({error.strerror or error}).") from None
    return out


def _write_course(course: Course, target: Path, graded: list[str]) -> None:
    """The course material grading needs, and nothing of the solutions of graded modules."""
    import tito

    shutil.copytree(Path(tito.__file__).parent, target / "tito", ignore=skip_names)
    (target / "tinytorch").mkdir(parents=True)
    for module in course.modules.values():
        folder = target / "modules" / module.id
        folder.mkdir(parents=True)
        shutil.copy2(module.yaml_path, folder / "module.yaml")
        if module.id in graded:
            files.write_text(folder / module.file, _grading_text(module.source_path))
    records = course.root / RELEASES
    if records.is_dir():
        shutil.copytree(records, target / RELEASES, ignore=skip_names)


def _grading_text(path: Path) -> str:
    """The instructor's file with solutions stripped and hidden tests kept."""
    from tito.course.cells import parse_cells

    text = files.read_text(path, what="The module file")
    student_text(text, path.name)  # every marker checked, with file:line
    out = []
    for cell in parse_cells(text, path.name):
        body, _ = strip_cell(cell, path.name, keep_hidden=True)
        out.append((cell.header or "") + body)
    return "".join(out)


def _requirements() -> str:
    """The course's runtime packages, pinned to the versions installed here (what the
    instructor graded and tested with), unpinned where one is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    lines = []
    for name in REQUIREMENTS:
        try:
            lines.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            lines.append(name)
    return "\n".join(lines) + "\n"


def _zip(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            executable = name in ("setup.sh", "run_autograder")
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


# ── inside Gradescope ──


def run(root: Path) -> dict:
    """Grade `root/submission` with the autograder in `root/source`; return the results."""
    started = time.perf_counter()
    source = root / "source"
    submission = root / "submission"
    try:
        config = files.read_json(source / CONFIG, what="The autograder's configuration")
        course = load_course(source / "course")
        records = read_records(course.root)
        reports = [
            grade_module(
                course,
                submission,
                module_id,
                student="submission",
                package=source / "packages" / module_id,
                records=records,
            )
            for module_id in config["modules"]
        ]
        results = results_json(reports, _listing(submission))
    except Exception as error:  # noqa: BLE001 - Gradescope must get a results.json
        message = error.message if isinstance(error, TitoError) else repr(error)
        results = {
            "score": 0.0,
            "output": f"The autograder could not grade this submission: {message}",
            "tests": [],
        }
    results["execution_time"] = round(time.perf_counter() - started)
    return results


def results_json(reports: list[GradeReport], listing: str = "") -> dict:
    """Gradescope's results format: one entry per graded test; a test whose cell holds hidden
    checks gets a visible 0-point entry for its visible checks and an `after_published` entry
    that carries its points."""
    tests = []
    for report in reports:
        for test in report.tests:
            tests += _entries(report, test)
    lines = []
    for report in reports:
        line = f"{report.module_id}: {_n(report.points)} / {_n(report.max_points)} points"
        if report.status not in ("passed", "failed"):
            line += f" ({report.message})"
        lines.append(line)
        lines += [f"  note: {w}" for w in report.warnings]
    if any(r.status == "missing" for r in reports) and listing:
        lines.append(f"Files in your submission: {listing}")
    return {
        "score": round(sum(r.points for r in reports), 6),
        "output": "\n".join(lines),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _entries(report: GradeReport, test: GradedTest) -> list[dict]:
    name = f"{report.module_id} · {test.name}"
    output = _output(test)
    entry = {
        "name": name,
        "score": round(test.points, 6),
        "max_score": round(test.max_points, 6),
        "status": "passed" if test.outcome == "passed" else "failed",
        "output": output,
        "visibility": "visible",
    }
    if not test.hidden:
        return [entry]
    visible_passed = test.outcome == "passed" or test.failed_in_hidden
    visible = {
        "name": f"{name} (visible checks)",
        "score": 0.0,
        "max_score": 0.0,
        "status": "passed" if visible_passed else "failed",
        "output": "" if visible_passed else output,
        "visibility": "visible",
    }
    hidden_output = output if not visible_passed else (HIDDEN_FAILED if test.points == 0 else "")
    entry.update(
        name=f"{name} (with hidden checks)", output=hidden_output, visibility="after_published"
    )
    return [visible, entry]


def _output(test: GradedTest) -> str:
    if test.outcome == "passed":
        return ""
    text = f"{test.outcome}: {test.message}" if test.message else test.outcome
    if test.traceback:
        text += "\n\n" + test.traceback
    return text[-OUTPUT_LIMIT:]


def _listing(folder: Path) -> str:
    if not folder.is_dir():
        return "(no submission folder)"
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return shown or "(empty)"


def _n(value: float) -> str:
    return f"{round(value, 6):g}"


def write_results(root: Path, results: dict) -> Path:
    path = root / "results" / "results.json"
    files.write_atomic(path, json.dumps(results, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gradescope entry point of a tito autograder.")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    args = parser.parse_args(argv)
    root = Path(args.root)
    results = run(root)
    write_results(root, results)
    print(results["output"])
    print(f"score: {results['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
