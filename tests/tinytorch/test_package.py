"""The package's top level: lazy, cheap, and clear about what is not exported yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
