"""The package's top level: lazy, cheap, and clear about what is not exported yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_is_cheap_and_names_resolve_lazily():
    done = run_python(
        """
        import sys
        import tinytorch
        assert "numpy" not in sys.modules, "import tinytorch must not import NumPy"
        from tinytorch import Tensor
        assert Tensor.__module__ == "tinytorch.core.tensor"
        assert "Tensor" in dir(tinytorch)
        print("ok")
        """,
        ROOT,
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_only_module_01_exported(tmp_path):
    """With only core/tensor.py present, import works and later names explain themselves."""
    package = tmp_path / "tinytorch"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text((ROOT / "tinytorch" / "__init__.py").read_text())
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "tensor.py").write_text(
        (ROOT / "tinytorch" / "core" / "tensor.py").read_text()
    )
    done = run_python(
        """
        import tinytorch
        from tinytorch import Tensor
        print(Tensor([1.0, 2.0]).sum().item())
        try:
            from tinytorch import GPT
        except ImportError as error:
            print(error)
        print(hasattr(tinytorch, "no_such_name"))
        """,
        tmp_path,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "3.0", done.stderr
    assert "complete module 13_transformers" in lines[1]
    assert lines[2] == "False"


GELU_PAGE_FAULTS = """
    import json, resource, sys
    import numpy as np
    import tinytorch
    from tinytorch.acceleration import keep_freed_memory
    from tinytorch.core.activations import gelu

    applied = keep_freed_memory() if sys.argv[1] == "call" else None
    x = np.random.default_rng(0).standard_normal((16, 64, 512)).astype(np.float32)

    def faults_of_one_gelu():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        gelu(x)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    counts = [faults_of_one_gelu() for _ in range(4)]
    print(json.dumps([applied, counts[1:]]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("switch", ["call", "import-only"])
def test_freed_memory_is_kept_only_when_asked(switch):
    """module 16's keep_freed_memory() makes a GELU's 2 MB temporaries come back from the
    heap; importing tinytorch alone leaves malloc as it is (the switch is explicit).

    Counted in minor page faults, not seconds: with the default malloc every repeat faults
    in all its pages again (about 2,000 here), and that made the GELU 4x slower.
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GELU_PAGE_FAULTS), switch],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "TINYTORCH_KEEP_FREED_MEMORY"},
    )
    applied, repeats = json.loads(done.stdout)
    if switch == "call":
        assert applied is True and max(repeats) < 50, repeats
    else:
        assert min(repeats) > 1000, f"import tinytorch must not change malloc: {repeats}"
