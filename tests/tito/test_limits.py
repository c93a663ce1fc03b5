"""Resource limits for graded code: they bite in the child, and the module imports anywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tito.course.limits import MIB, Limits, preexec, supported

pytestmark = pytest.mark.skipif(not supported(), reason="resource limits need POSIX")


def run_limited(code: str, limits: Limits) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=preexec(limits),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_memory_limit_turns_a_huge_allocation_into_memory_error():
    code = "b = bytearray(2 * 1024**3)\nprint('allocated')"
    result = run_limited(code, Limits(memory_bytes=512 * MIB))
    assert "MemoryError" in result.stderr and "allocated" not in result.stdout


def test_file_size_limit_stops_a_test_that_fills_the_disk(tmp_path):
    target = tmp_path / "big"
    code = f"open({str(target)!r}, 'wb').write(b'x' * (8 * 1024**2))"
    result = run_limited(code, Limits(file_bytes=1 * MIB))
    assert result.returncode != 0  # SIGXFSZ, or an OSError where the signal is ignored
    assert target.stat().st_size <= 1 * MIB


def test_cpu_limit_follows_the_timeout_and_is_set_in_the_child():
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_CPU)[0])"
    result = run_limited(code, Limits().for_timeout(3))
    assert result.stdout.strip() == "16"  # twice the timeout plus 10 s


def test_limits_module_does_not_import_resource_at_import_time():
    code = (
        "import sys; sys.modules['resource'] = None\n"  # as on Windows: import fails
        "import tito.course.limits as l, tito.course.grading, tito.course.runner\n"
        "print(l.supported(), l.preexec(l.DEFAULT_LIMITS))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False None", result.stderr
