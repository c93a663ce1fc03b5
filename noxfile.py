"""nox sessions: the test suite on each Python the course supports (3.11, 3.12, 3.13).

    .venv/bin/nox -s fast-3.12 fast-3.13   # what CI runs besides scripts/test.sh
    .venv/bin/nox -s tests-3.13            # every test, slow ones too
    .venv/bin/nox -s fast -- -x -k notebook   # arguments after -- go to pytest

nox finds each interpreter by name (`python3.12`) on PATH; `.ci/run` adds pyenv's. Sessions
install the course as `scripts/setup-venv.sh` does, without PyTorch: the tests that compare
with it skip, and the gradient checks against finite differences still run.
"""

from __future__ import annotations

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
nox.options.sessions = ["fast"]
nox.options.error_on_missing_interpreters = True  # a skipped Python must not look like a pass


def install(session: nox.Session) -> None:
    # compat: the course folder itself is on sys.path, so `tinytorch` is always this folder's.
    session.install("--config-settings", "editable_mode=compat", "-e", ".[dev]")


@nox.session(python=PYTHONS)
def fast(session: nox.Session) -> None:
    """The tests not marked slow (no whole-milestone runs)."""
    install(session)
    session.run("python", "-m", "pytest", "-m", "not slow", "-q", *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Every test."""
    install(session)
    session.run("python", "-m", "pytest", "-q", *session.posargs)
