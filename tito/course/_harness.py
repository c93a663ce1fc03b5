"""Run one module file's tests inside a fresh interpreter (started by tito's runner).

Standard library only, and nothing from tito: it is run by path, so any copy of the course
(a student release, a submission being graded) can run it. Events stream as JSON lines to
--out, flushed one by one, so that if the process is killed the runner knows how far it got:
`load_start`, then `loaded` or `load_error`, `collected`, `test_start` / `test_end` per test,
and `done`.

    python _harness.py --root COURSE --file MODULE_FILE --out RESULTS.jsonl
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import importlib.util
import inspect
import io
import json
import linecache
import os
import reprlib
import sys
import time
import traceback
import types

OUTPUT_LIMIT = 20_000  # characters of captured output kept per test (the tail)
AGGREGATOR = "test_module"  # real-world files call every other test from it: run it last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root, path = os.path.realpath(args.root), os.path.realpath(args.file)
    prepare_path(root, path)
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


def prepare_path(root: str, path: str) -> None:
    """The course root first, so `tinytorch` is the course's own package, never another copy."""
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", here, os.getcwd())]
    sys.path.insert(0, root)
    for name in [m for m in sys.modules if m == "tinytorch" or m.startswith("tinytorch.")]:
        del sys.modules[name]
    sys.argv = [path]  # code that reads sys.argv at load time must not see the harness's
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
        frames = traceback.extract_tb(error.__traceback__)
        kept = [f for f in frames if context.keep(f.filename)]
        lines = ["Traceback (most recent call last):\n", *traceback.format_list(kept)]
        lines += traceback.format_exception_only(type(error), error)
        emit(
            event="load_error",
            kind="syntax",
            message=f"{type(error).__name__}: {error.msg}",
            file=error.filename,
            line=error.lineno,
            traceback="".join(lines if kept else lines[1:]),
            output=tail(captured.getvalue()),
        )
        return None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure at load is reported
        kind = "import" if isinstance(error, ImportError) else "exception"
        details = describe(error, context)
        if isinstance(error, AssertionError):  # a test called at the top level failed
            details["message"] = f"AssertionError: {details['message']}"
        emit(event="load_error", kind=kind, output=tail(captured.getvalue()), **details)
        return None
    emit(event="loaded", seconds=time.perf_counter() - started, output=tail(captured.getvalue()))
    return module


def collect(module: types.ModuleType, path: str) -> list[tuple[str, int, object]]:
    """Top-level test_* functions defined in this file, in definition order; test_module (an
    aggregator that calls the others in many course files) runs last."""
    found = []
    for name, value in vars(module).items():
        if not name.startswith("test_") or not callable(value):
            continue
        try:
            function = inspect.unwrap(value)  # a decorated test: where its body is defined
        except Exception:  # noqa: BLE001 - a wrapper chain that loops or fails: not a test
            continue
        code = getattr(function, "__code__", None)
        if not isinstance(code, types.CodeType) or os.path.realpath(code.co_filename) != path:
            continue  # imported from elsewhere (or not a function): not this module's test
        found.append((name, code.co_firstlineno, value))
    found.sort(key=lambda item: (item[0] == AGGREGATOR, item[1]))
    return found


def run_test(function, context: Context) -> dict:
    captured = io.StringIO()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            call(function)
    except AssertionError as error:
        result = {"outcome": "failed", **describe(error, context)}
    except (Exception, SystemExit) as error:  # noqa: BLE001 - a test's error is a result
        result = {"outcome": "error", **describe(error, context)}
    else:
        result = {"outcome": "passed", "message": "", "file": None, "line": None, "traceback": ""}
    result.update(seconds=time.perf_counter() - started, output=tail(captured.getvalue()))
    return result


def call(function) -> None:
    """Call a test; an async test is awaited and a generator test is run to its end, so that
    neither passes without its body having run."""
    result = function()
    if inspect.iscoroutine(result):
        asyncio.run(result)
    elif inspect.isgenerator(result):
        for _ in result:
            pass


def describe(error: BaseException, context: Context) -> dict:
    """One-line message, the student's file and line, and a traceback trimmed to their code."""
    frames = traceback.extract_tb(error.__traceback__)
    kept = [f for f in frames if context.keep(f.filename)]
    student = [f for f in frames if context.is_student(f.filename)]
    where = student[-1] if student else None
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(kept)]
    lines += traceback.format_exception_only(type(error), error)
    return {
        "message": message_for(error),
        "file": where.filename if where else None,
        "line": where.lineno if where else None,
        "traceback": "".join(lines) if kept else "".join(lines[-1:]),
    }


def message_for(error: BaseException) -> str:
    """One line: `not implemented yet: Tensor.matmul`, `assert x == 4 (x = 3)`, or
    `ValueError: shapes do not match`."""
    innermost = last_traceback(error)
    if isinstance(error, NotImplementedError):
        code = innermost.tb_frame.f_code if innermost else None
        return f"not implemented yet: {getattr(code, 'co_qualname', '?') if code else '?'}"
    text = str(error).strip()
    if isinstance(error, AssertionError):
        return text.splitlines()[0] if text else failed_assertion(innermost)
    name = type(error).__name__
    return f"{name}: {text.splitlines()[0]}" if text else name


def last_traceback(error: BaseException) -> types.TracebackType | None:
    """The traceback entry of the frame that raised."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def failed_assertion(tb: types.TracebackType | None) -> str:
    """A bare `assert` that failed: its source line, with the values of the plain variable
    names it uses (read from the frame, never by evaluating anything)."""
    if tb is None:
        return "assertion failed"
    frame = tb.tb_frame
    source = linecache.getline(frame.f_code.co_filename, tb.tb_lineno).strip()
    if not source:
        return "assertion failed"
    shown = []
    for name in assertion_names(source):
        if name in frame.f_locals:
            value = frame.f_locals[name]
        elif name in frame.f_globals:
            value = frame.f_globals[name]
        else:
            continue
        if callable(value) or isinstance(value, types.ModuleType):
            continue
        shown.append(f"{name} = {short_repr(value)}")
    return f"{source} ({', '.join(shown)})" if shown else source


def assertion_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # an assert that spans several lines: show the first one alone
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    return names


def short_repr(value) -> str:
    shorten = reprlib.Repr()
    shorten.maxstring = shorten.maxother = 60
    try:
        return " ".join(shorten.repr(value).split())
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the failure
        return f"<{type(value).__name__}>"


def tail(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return f"[... {len(text) - OUTPUT_LIMIT} characters cut ...]\n" + text[-OUTPUT_LIMIT:]


if __name__ == "__main__":
    main()
