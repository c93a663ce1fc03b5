"""Run one module file's tests inside a fresh interpreter (started by tito's runner).

Standard library only, and nothing from tito: it is run by path, so any copy of the course
(a student release, a submission being graded) can run it. Events stream as JSON lines to
--out, flushed one by one, so that if the process is killed the runner knows how far it got.

    python _harness.py --root COURSE --file MODULE_FILE --out RESULTS.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import linecache
import os
import sys
import time
import traceback
import types


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root, path = os.path.realpath(args.root), os.path.realpath(args.file)
    prepare_path(root)
    with open(args.out, "a", encoding="utf-8") as out:

        def emit(**event) -> None:
            out.write(json.dumps(event, default=str) + "\n")
            out.flush()

        context = Context(path, os.path.join(root, "tinytorch") + os.sep)
        module = load(path, context, emit)
        if module is None:
            return
        tests = collect(module, path)
        emit(event="collected", tests=[[name, line] for name, line, _ in tests])
        for name, _line, function in tests:
            emit(event="test_start", name=name)
            emit(event="test_end", name=name, **run_test(function, context))
        emit(event="done")


class Context:
    """Where the student's code lives, to trim tracebacks to their files."""

    def __init__(self, path: str, package: str):
        self.path, self.package = path, package

    def is_student(self, filename: str) -> bool:
        return os.path.realpath(filename) == self.path

    def keep(self, filename: str) -> bool:
        real = os.path.realpath(filename)
        return real == self.path or real.startswith(self.package)


def prepare_path(root: str) -> None:
    """The course root first, so `tinytorch` is the course's own package, never another copy."""
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", here, os.getcwd())]
    sys.path.insert(0, root)
    for name in [m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch.")]:
        del sys.modules[name]
    sys.dont_write_bytecode = True


def load(path: str, context: Context, emit) -> types.ModuleType | None:
    """Execute the module file under a name that is not __main__ (so its main block is skipped)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name = f"tito_student_{stem}"
    emit(event="load_start", module=name)
    captured = io.StringIO()
    started = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            spec.loader.exec_module(module)
    except SyntaxError as error:
        emit(
            event="load_error",
            kind="syntax",
            message=f"SyntaxError: {error.msg}",
            file=error.filename,
            line=error.lineno,
            traceback="".join(traceback.format_exception_only(type(error), error)),
            output=captured.getvalue(),
        )
        return None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure at load is reported
        kind = "import" if isinstance(error, ImportError) else "exception"
        details = describe(error, context)
        if isinstance(error, AssertionError):  # a test called at the top level failed
            details["message"] = f"AssertionError: {details['message']}"
        emit(event="load_error", kind=kind, output=captured.getvalue(), **details)
        return None
    emit(event="loaded", seconds=time.perf_counter() - started, output=captured.getvalue())
    return module


def collect(module: types.ModuleType, path: str) -> list[tuple[str, int, types.FunctionType]]:
    """Top-level test_* functions defined in this file, in order; test_module (an aggregator
    that calls the others in many course files) runs last."""
    found = []
    for name, value in vars(module).items():
        if not name.startswith("test") or not isinstance(value, types.FunctionType):
            continue
        if not (name.startswith("test_") or name == "test"):
            continue
        if os.path.realpath(value.__code__.co_filename) != path:
            continue  # imported from elsewhere: not this module's test
        found.append((name, value.__code__.co_firstlineno, value))
    found.sort(key=lambda item: (item[0] == "test_module", item[1]))
    return found


def run_test(function, context: Context) -> dict:
    captured = io.StringIO()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            function()
    except AssertionError as error:
        result = {"outcome": "failed", **describe(error, context)}
    except (Exception, SystemExit) as error:  # noqa: BLE001 - a test's error is a result
        result = {"outcome": "error", **describe(error, context)}
    else:
        result = {"outcome": "passed", "message": "", "file": None, "line": None, "traceback": ""}
    result.update(seconds=time.perf_counter() - started, output=captured.getvalue())
    return result


def describe(error: BaseException, context: Context) -> dict:
    """One-line message, the student's file and line, and a traceback trimmed to their code."""
    frames = traceback.extract_tb(error.__traceback__)
    kept = [f for f in frames if context.keep(f.filename)]
    student = [f for f in frames if context.is_student(f.filename)]
    where = student[-1] if student else None
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(kept)]
    lines += traceback.format_exception_only(type(error), error)
    return {
        "message": message_for(error, frames, where),
        "file": where.filename if where else None,
        "line": where.lineno if where else None,
        "traceback": "".join(lines) if kept else "".join(lines[-1:]),
    }


def message_for(error: BaseException, frames, where) -> str:
    if isinstance(error, NotImplementedError):
        return f"not implemented yet: {raising_function(error, frames)}"
    text = str(error).strip()
    if isinstance(error, AssertionError):
        if text:
            return text.splitlines()[0]
        source = linecache.getline(where.filename, where.lineno).strip() if where else ""
        return f"assertion failed: {source}" if source else "assertion failed"
    name = type(error).__name__
    return f"{name}: {text.splitlines()[0]}" if text else name


def raising_function(error: BaseException, frames) -> str:
    """The qualified name of the function that raised (e.g. Tensor.__init__)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return frames[-1].name if frames else "?"
    return getattr(tb.tb_frame.f_code, "co_qualname", tb.tb_frame.f_code.co_name)


if __name__ == "__main__":
    main()
